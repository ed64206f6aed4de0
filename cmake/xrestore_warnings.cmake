# Warning and sanitizer flags for the project's own executables (never forced on consumers).
add_library(xrestore_project_options INTERFACE)
target_compile_options(xrestore_project_options INTERFACE -Wall -Wextra -Wpedantic)
if(XRESTORE_WARNINGS_AS_ERRORS)
    target_compile_options(xrestore_project_options INTERFACE -Werror)
endif()
if(XRESTORE_SANITIZE)
    target_compile_options(xrestore_project_options INTERFACE
        -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(xrestore_project_options INTERFACE -fsanitize=address,undefined)
endif()
if(XRESTORE_NATIVE)
    target_compile_options(xrestore_project_options INTERFACE -march=native)
endif()
