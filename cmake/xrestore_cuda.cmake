# The optional CUDA backend: the xrestore::cuda target (cudart + cuDNN from the CUDA toolkit),
# on by default when nvcc is found (first on PATH, then /usr/local/cuda/bin/nvcc).
#   -DXRESTORE_CUDA=OFF        never build it
#   -DXRESTORE_CUDA=ON         require it (configuring fails without nvcc)
#   -DCMAKE_CUDA_ARCHITECTURES  defaults to 80;90 (A100, H100/H200) plus PTX for newer devices
set(XRESTORE_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (when nvcc is found), ON, OFF")
set_property(CACHE XRESTORE_CUDA PROPERTY STRINGS AUTO ON OFF)

set(XRESTORE_HAVE_CUDA OFF)
if(NOT XRESTORE_CUDA STREQUAL "OFF")
    if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
        find_program(xrestore_nvcc nvcc)
        if(NOT xrestore_nvcc)
            set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
        endif()
    endif()
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
        if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
            # real code for sm_80 and sm_90, PTX of sm_90 for anything newer
            set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
        endif()
        enable_language(CUDA)
        find_package(CUDAToolkit REQUIRED)
        find_library(XRESTORE_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR}
            ${CUDAToolkit_LIBRARY_ROOT}/lib64)
        find_path(XRESTORE_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
        if(XRESTORE_CUDNN_LIBRARY AND XRESTORE_CUDNN_INCLUDE_DIR)
            set(XRESTORE_HAVE_CUDA ON)
        elseif(XRESTORE_CUDA STREQUAL "ON")
            message(FATAL_ERROR "XRESTORE_CUDA=ON: cuDNN (cudnn.h, libcudnn) not found next to "
                "the CUDA toolkit in ${CUDAToolkit_LIBRARY_DIR}")
        else()
            message(STATUS "xrestore: CUDA backend off (cuDNN not found)")
        endif()
    elseif(XRESTORE_CUDA STREQUAL "ON")
        message(FATAL_ERROR "XRESTORE_CUDA=ON but no CUDA compiler (nvcc) was found")
    else()
        message(STATUS "xrestore: CUDA backend off (no nvcc)")
    endif()
endif()

if(XRESTORE_HAVE_CUDA)
    if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
        # one runtime, the shared libcudart that CUDA::cudart names (not the static copy too)
        set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    endif()
    message(STATUS "xrestore: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
        "architectures ${CMAKE_CUDA_ARCHITECTURES}, ${XRESTORE_CUDNN_LIBRARY})")
    add_library(xrestore_cuda INTERFACE)
    add_library(xrestore::cuda ALIAS xrestore_cuda)
    target_link_libraries(xrestore_cuda INTERFACE xrestore CUDA::cudart ${XRESTORE_CUDNN_LIBRARY})
    target_include_directories(xrestore_cuda INTERFACE ${XRESTORE_CUDNN_INCLUDE_DIR})
    # C++20 for nvcc (CMake before 3.28 has no cuda_std_20 feature for nvcc 13), and __device__
    # lambdas in user code and tests
    target_compile_options(xrestore_cuda INTERFACE
        "$<$<COMPILE_LANGUAGE:CUDA>:-std=c++20;--extended-lambda>")
    target_compile_definitions(xrestore_cuda INTERFACE XRESTORE_HAVE_CUDA=1)
endif()
