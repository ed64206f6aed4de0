// The entry point of every test executable. Each tests/test_<name>.cpp holds one suite named
// after its file (BOOST_AUTO_TEST_SUITE(test_<name>)); ctest runs it as `<group> --run_test=
// test_<name>`. Several files share one executable (see tests/CMakeLists.txt).
#define BOOST_TEST_MODULE xrestore
#include <boost/test/unit_test.hpp>
