# The installed command line is relocatable and has no path of the tree it was built from:
#   cmake -DPREFIX=<installed prefix> -DWORK=<scratch folder> -DSOURCE_DIR=<source tree>
#         -DBINARY_DIR=<build tree> -P relocated_cli.cmake
# 1. no string in the installed program names the source or the build tree;
# 2. the prefix copied elsewhere runs `study --size 32` (a few iterations) with XRESTORE_DATA_DIR
#    and XRESTORE_MODELS_DIR unset, and the report names the copy's photo and model;
# 3. the program alone, without share/xrestore beside it, fails at once and says where it looked;
#    XRESTORE_DATA_DIR and XRESTORE_MODELS_DIR then point it at the copy's files.
set(exe_name xrestore${CMAKE_EXECUTABLE_SUFFIX})
unset(ENV{XRESTORE_DATA_DIR})
unset(ENV{XRESTORE_MODELS_DIR})

function(run expect_exit out_var)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
    message("$ ${ARGN}\n${out}${err}")
    if(expect_exit STREQUAL "nonzero" AND status STREQUAL "0")
        message(FATAL_ERROR "relocated_cli: expected a failure, got exit status 0")
    elseif(NOT expect_exit STREQUAL "nonzero" AND NOT status STREQUAL expect_exit)
        message(FATAL_ERROR "relocated_cli: expected exit status ${expect_exit}, got ${status}")
    endif()
    set(${out_var} "${out}${err}" PARENT_SCOPE)
endfunction()

function(require text pattern)
    if(NOT text MATCHES "${pattern}")
        message(FATAL_ERROR "relocated_cli: the output does not match: ${pattern}")
    endif()
endfunction()

# 1. no tree path compiled in
file(STRINGS ${PREFIX}/bin/${exe_name} strings LENGTH_MINIMUM 6)
foreach(tree ${SOURCE_DIR} ${BINARY_DIR})
    foreach(s IN LISTS strings)
        string(FIND "${s}" "${tree}" at)
        if(NOT at EQUAL -1)
            message(FATAL_ERROR "relocated_cli: the installed program holds the path '${s}'")
        endif()
    endforeach()
endforeach()

# 2. the prefix copied to another folder
file(REMOVE_RECURSE ${WORK})
set(copy ${WORK}/elsewhere)
file(MAKE_DIRECTORY ${copy}/share)
file(COPY ${PREFIX}/bin DESTINATION ${copy})
file(COPY ${PREFIX}/share/xrestore DESTINATION ${copy}/share)
set(xrestore ${copy}/bin/${exe_name})
run(0 out ${xrestore} study --size 32 --iters 2 --curve-iters 4 --red-iters 2 --baseline-iters 4
    --patience 2 --out ${WORK}/study)
require("${out}" "study: report: ${WORK}/study/report.md")
file(READ ${WORK}/study/results.json results)
string(JSON image GET "${results}" settings image)
string(JSON weights GET "${results}" settings weights)
if(NOT image STREQUAL "${copy}/share/xrestore/data/images/butterfly_set5.png" OR
   NOT weights STREQUAL "${copy}/share/xrestore/models/denoiser_unet_c32.pth")
    message(FATAL_ERROR "relocated_cli: the study used ${image} and ${weights}")
endif()

# 3. the program alone, then pointed at the files by the environment
file(COPY ${PREFIX}/bin DESTINATION ${WORK}/alone)
set(alone ${WORK}/alone/bin/${exe_name})
run(nonzero out ${alone} study --size 32 --out ${WORK}/study_alone)
require("${out}" "no --image given, and the bundled photo images/butterfly_set5.png was not found: looked in ${WORK}/alone/share/xrestore/data/images/butterfly_set5.png \\(beside the executable ${WORK}/alone/bin/${exe_name}\\); set XRESTORE_DATA_DIR")
set(ENV{XRESTORE_DATA_DIR} ${copy}/share/xrestore/data)
run(nonzero out ${alone} study --size 32 --out ${WORK}/study_alone)
require("${out}" "no --weights given, and the default model denoiser_unet_c32.pth was not found: looked in ${WORK}/alone/share/xrestore/models/denoiser_unet_c32.pth \\(beside the executable ${WORK}/alone/bin/${exe_name}\\); set XRESTORE_MODELS_DIR")
if(EXISTS ${WORK}/study_alone/report.md)
    message(FATAL_ERROR "relocated_cli: a study without its files wrote a report")
endif()
set(ENV{XRESTORE_MODELS_DIR} ${copy}/share/xrestore/models)
run(0 out ${alone} study --help)
require("${out}" "--image TEXT=${copy}/share/xrestore/data/images/butterfly_set5.png")
require("${out}" "--weights TEXT=${copy}/share/xrestore/models/denoiser_unet_c32.pth")
set(ENV{XRESTORE_DATA_DIR} ${WORK}/nowhere)
run(nonzero out ${alone} study --size 32 --out ${WORK}/study_alone)
require("${out}" "looked in ${WORK}/nowhere/images/butterfly_set5.png \\(from XRESTORE_DATA_DIR\\)")
message("relocated_cli: OK")
