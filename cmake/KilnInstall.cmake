# Install rules and the CMake package config: find_package(kiln) then link
# kiln::layers (or any lower folder library).
include(CMakePackageConfigHelpers)
install(EXPORT kilnTargets NAMESPACE kiln:: DESTINATION lib/cmake/kiln)
configure_package_config_file(cmake/kilnConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/kilnConfig.cmake INSTALL_DESTINATION lib/cmake/kiln)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kilnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kilnConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/kilnConfigVersion.cmake
        DESTINATION lib/cmake/kiln)
