// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
// The gateway's XDP program: redirects IPv4 UDP datagrams whose destination
// port is in `tachyon_ports` to the AF_XDP socket of the receiving queue
// (`xsks_map`, indexed by RX queue); passes everything else to the kernel
// (ARP, ICMP, TCP such as SSH, other UDP ports, IPv6, IPv4 fragments,
// anything too short to parse), so the host keeps working while the fast
// path runs.
//
// Frames may carry up to two VLAN tags (802.1Q / 802.1ad) and IPv4 options.
// The program checks only what it needs to classify a frame; the socket's
// reader (packet.h's ParseFrame) checks lengths and checksums again.
//
// Maps, looked up by name by the loaders (ours in xdp_program.cpp, and
// DPDK's net_af_xdp PMD through xdp_prog=, which fills the same maps):
//   xsks_map       XSKMAP, key: RX queue index, value: AF_XDP socket fd
//   tachyon_ports  HASH, key: UDP destination port (__u16, host order),
//                  value: __u8 (any value: present means redirect)
//   tachyon_stats  PERCPU_ARRAY of __u64 per Verdict below
//
// The program's name, tachyon_xdp, is how a later start recognises a
// program left attached by a gateway that did not shut down cleanly.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Keep in step with kStatNames in xdp_program.cpp.
enum Verdict {
  kRedirected = 0,
  kNoSocket = 1,  // our port, but no socket in the queue's slot: passed
  kPassNotIpv4 = 2,
  kPassNotUdp = 3,
  kPassFragment = 4,
  kPassOtherPort = 5,
  kPassShort = 6,
  kVerdicts = 7,
};

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

// What is redirected: UDP to `port` (host order) on `address` (network
// order; 0: any address). Keep in step with XdpPortKey (xdp_program.h).
struct port_key {
  __be32 address;
  __u16 port;
  __u16 zero;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, struct port_key);
  __type(value, __u8);
} tachyon_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, kVerdicts);
  __type(key, __u32);
  __type(value, __u64);
} tachyon_stats SEC(".maps");

struct vlan_tag {
  __be16 tci;
  __be16 inner_proto;
};

static __always_inline int Count(__u32 verdict, int action) {
  __u64 *n = bpf_map_lookup_elem(&tachyon_stats, &verdict);
  if (n) *n += 1;
  return action;
}

SEC("xdp")
int tachyon_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return Count(kPassShort, XDP_PASS);
  __be16 proto = eth->h_proto;
  void *cursor = eth + 1;

  // Up to two VLAN tags (QinQ), unrolled for the verifier.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) {
      break;
    }
    struct vlan_tag *tag = cursor;
    if ((void *)(tag + 1) > data_end) return Count(kPassShort, XDP_PASS);
    proto = tag->inner_proto;
    cursor = tag + 1;
  }
  if (proto != bpf_htons(ETH_P_IP)) return Count(kPassNotIpv4, XDP_PASS);

  struct iphdr *ip = cursor;
  if ((void *)(ip + 1) > data_end) return Count(kPassShort, XDP_PASS);
  if (ip->version != 4 || ip->ihl < 5) return Count(kPassShort, XDP_PASS);
  if (ip->protocol != IPPROTO_UDP) return Count(kPassNotUdp, XDP_PASS);
  // More fragments, or a non-zero offset: the kernel reassembles.
  if (ip->frag_off & bpf_htons(0x3fff)) return Count(kPassFragment, XDP_PASS);

  // IPv4 options: the header is ihl 32-bit words (5..15).
  struct udphdr *udp = (void *)ip + ((__u32)ip->ihl & 0xf) * 4;
  if ((void *)(udp + 1) > data_end) return Count(kPassShort, XDP_PASS);

  // The gateway's address and port, or its port on any address: UDP to
  // the port on another local (or forwarded) address stays with the kernel.
  struct port_key key = {
      .address = ip->daddr, .port = bpf_ntohs(udp->dest), .zero = 0};
  if (!bpf_map_lookup_elem(&tachyon_ports, &key)) {
    key.address = 0;
    if (!bpf_map_lookup_elem(&tachyon_ports, &key)) {
      return Count(kPassOtherPort, XDP_PASS);
    }
  }
  int action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
  return Count(action == XDP_REDIRECT ? kRedirected : kNoSocket, action);
}

char _license[] SEC("license") = "Dual BSD/GPL";
