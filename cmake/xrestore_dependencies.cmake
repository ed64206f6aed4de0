# Dependencies of the xrestore targets, all from Debian packages (see tools/install_deps.sh).
include(GNUInstallDirs)
find_package(xtl REQUIRED)
find_package(xtensor REQUIRED)
find_package(xsimd REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XRESTORE_STB REQUIRED IMPORTED_TARGET GLOBAL stb)
# OpenBLAS's CBLAS runs the U-Net's convolutions (nn/); nlohmann-json parses safetensors headers.
pkg_check_modules(XRESTORE_OPENBLAS REQUIRED IMPORTED_TARGET GLOBAL openblas)
find_package(nlohmann_json REQUIRED)

# stb ships its implementation as libstb; wrap it in a target name that works in both the build
# tree and an installed package.
if(NOT TARGET xrestore_stb)
    add_library(xrestore_stb INTERFACE)
    target_link_libraries(xrestore_stb INTERFACE PkgConfig::XRESTORE_STB)
endif()
if(NOT TARGET xrestore_openblas)
    add_library(xrestore_openblas INTERFACE)
    target_link_libraries(xrestore_openblas INTERFACE PkgConfig::XRESTORE_OPENBLAS)
endif()
