# Warning and sanitizer flags for the project's own executables (never forced on consumers).
add_library(xrestore_project_options INTERFACE)
target_compile_options(xrestore_project_options INTERFACE
    "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wpedantic>"
    # nvcc: the host compiler's warnings on the host code, nvcc's own on the device code
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(XRESTORE_WARNINGS_AS_ERRORS)
    target_compile_options(xrestore_project_options INTERFACE
        $<$<COMPILE_LANGUAGE:CXX>:-Werror>
        $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
endif()
if(XRESTORE_SANITIZE)
    target_compile_options(xrestore_project_options INTERFACE 
        "$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=undefined>")
    target_link_options(xrestore_project_options INTERFACE -fsanitize=address,undefined)
endif()
if(XRESTORE_NATIVE)
    target_compile_options(xrestore_project_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
