# The two commands a new user needs (see README.md):
#   make run    install what is missing, build Release, run the gateway
#   make test   install what is missing, build, run the whole test suite
# Everything else here is a convenience for developers.

BUILD      ?= build/release
JOBS       ?= $(shell nproc)
CONFIG     ?= config/gateway.toml
GATEWAY_ARGS ?=
CMAKE_ARGS ?=

.PHONY: run test deps configure build bench asan tsan fuzz format format-check clean

run: deps configure
	cmake --build $(BUILD) -j $(JOBS) --target tachyon-gateway tachyon-pub \
	  tachyon-sub tachyon-ping tachyon-stat
	@./scripts/run-gateway.sh $(BUILD) $(CONFIG) $(GATEWAY_ARGS)

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

deps:
	@./scripts/install-deps.sh

configure:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

bench: deps build
	./scripts/run-micro-bench.sh $(BUILD)

asan: deps
	./scripts/sanitized-build.sh address build/asan

tsan: deps
	./scripts/sanitized-build.sh thread build/tsan

fuzz: deps
	./scripts/fuzz.sh build/fuzz 60

format:
	git ls-files '*.h' '*.cpp' | xargs clang-format-14 -i

format-check:
	./scripts/check-format.sh

clean:
	rm -rf build
