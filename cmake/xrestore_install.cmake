# Install rules and the find_package(xrestore) package configuration.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/xrestore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS xrestore xrestore_xsimd xrestore_openmp xrestore_report xrestore_stb xrestore_openblas
    EXPORT xrestoreTargets)

set(XRESTORE_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/xrestore)
install(EXPORT xrestoreTargets NAMESPACE xrestore:: DESTINATION ${XRESTORE_CMAKE_DIR})

# The files the command line ships with, in <prefix>/share/xrestore: the default U-Net with its
# sidecar (the call convention) and its description, the sample photos and the image-quality models with their
# sources and licences (data/SOURCES.tsv: Apache-2.0/BSD-3-Clause and CC0, all redistributable). The CLI
# itself (xrestore::cli, bin/xrestore) is installed by tools/cli/CMakeLists.txt.
set(XRESTORE_INSTALL_MODELS_DIR ${CMAKE_INSTALL_DATADIR}/xrestore/models)
set(XRESTORE_INSTALL_DATA_DIR ${CMAKE_INSTALL_DATADIR}/xrestore/data)
set(XRESTORE_INSTALL_CLI ${CMAKE_INSTALL_BINDIR}/xrestore${CMAKE_EXECUTABLE_SUFFIX})
install(FILES ${PROJECT_SOURCE_DIR}/models/denoiser_unet_c32.pth
    ${PROJECT_SOURCE_DIR}/models/denoiser_unet_c32.json ${PROJECT_SOURCE_DIR}/models/MODEL.md
    DESTINATION ${XRESTORE_INSTALL_MODELS_DIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/images DESTINATION ${XRESTORE_INSTALL_DATA_DIR})
# the models of the no-reference measures (BRISQUE: OpenCV's LIVE SVR; NIQE: the pristine
# parameters) with their notices, read by `xrestore iqa` and `xrestore metrics`
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/iqa DESTINATION ${XRESTORE_INSTALL_DATA_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/data/SOURCES.tsv DESTINATION ${XRESTORE_INSTALL_DATA_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xrestoreConfig.cmake.in
    ${PROJECT_BINARY_DIR}/xrestoreConfig.cmake INSTALL_DESTINATION ${XRESTORE_CMAKE_DIR}
    PATH_VARS XRESTORE_INSTALL_MODELS_DIR XRESTORE_INSTALL_DATA_DIR XRESTORE_INSTALL_CLI)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xrestoreConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/xrestoreConfig.cmake
    ${PROJECT_BINARY_DIR}/xrestoreConfigVersion.cmake
    ${PROJECT_SOURCE_DIR}/cmake/xrestore_dependencies.cmake
    DESTINATION ${XRESTORE_CMAKE_DIR})
