// Boost.JSON, header-only: Debian ships no compiled libboost_json for 1.81
// in libboost1.81-dev, and the tests only parse what the admin plane
// writes. Exactly one translation unit includes src.hpp.
#include <boost/json/src.hpp>
