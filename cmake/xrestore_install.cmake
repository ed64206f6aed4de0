# Install rules and the find_package(xrestore) package configuration.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/xrestore DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS xrestore xrestore_xsimd xrestore_openmp xrestore_report xrestore_stb xrestore_openblas
    EXPORT xrestoreTargets)

set(XRESTORE_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/xrestore)
install(EXPORT xrestoreTargets NAMESPACE xrestore:: DESTINATION ${XRESTORE_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xrestoreConfig.cmake.in
    ${PROJECT_BINARY_DIR}/xrestoreConfig.cmake INSTALL_DESTINATION ${XRESTORE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xrestoreConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/xrestoreConfig.cmake
    ${PROJECT_BINARY_DIR}/xrestoreConfigVersion.cmake
    ${PROJECT_SOURCE_DIR}/cmake/xrestore_dependencies.cmake
    DESTINATION ${XRESTORE_CMAKE_DIR})
