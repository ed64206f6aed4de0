# Run a command and check its exit status and output together (ctest's PASS_REGULAR_EXPRESSION
# alone ignores the exit status, so an error test would pass on a command that exits 0).
#   cmake -DEXPECT_EXIT=<N|error> [-DEXPECT_REGEX=<regex>] [-DFORBID_REGEX=<regex>]
#         [-DEXPECT_PRESENT=<file>] [-DEXPECT_ABSENT=<file>]
#         -P check_command.cmake -- <command> [args...]
# EXPECT_EXIT=error requires an exit status from 1 to 125 (an error reported by the program),
# never a crash or a signal. Standard output and standard error are checked together.
# EXPECT_PRESENT names a file the command must write, EXPECT_ABSENT one it must not write; both
# are removed before the command runs.
set(command)
set(after_separator OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
    if(after_separator)
        list(APPEND command "${CMAKE_ARGV${i}}")
    elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
        set(after_separator ON)
    endif()
endforeach()
if(NOT command)
    message(FATAL_ERROR "check_command: no command after --")
endif()
if(NOT DEFINED EXPECT_EXIT)
    set(EXPECT_EXIT 0)
endif()

foreach(path IN ITEMS ${EXPECT_PRESENT} ${EXPECT_ABSENT})
    file(REMOVE "${path}")
endforeach()
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
string(REPLACE ";" " " shown "${command}")
set(problems)
if(EXPECT_EXIT STREQUAL "error")
    if(NOT status MATCHES "^[0-9]+$" OR status EQUAL 0 OR status GREATER 125)
        list(APPEND problems "expected an error exit (1 to 125), got '${status}'")
    endif()
elseif(NOT status STREQUAL EXPECT_EXIT)
    list(APPEND problems "expected exit status ${EXPECT_EXIT}, got '${status}'")
endif()
if(DEFINED EXPECT_REGEX AND NOT output MATCHES "${EXPECT_REGEX}")
    list(APPEND problems "the output does not match '${EXPECT_REGEX}'")
endif()
if(DEFINED FORBID_REGEX AND output MATCHES "${FORBID_REGEX}")
    list(APPEND problems "the output matches the forbidden '${FORBID_REGEX}'")
endif()
if(DEFINED EXPECT_PRESENT AND NOT EXISTS "${EXPECT_PRESENT}")
    list(APPEND problems "'${EXPECT_PRESENT}' was not written")
endif()
if(DEFINED EXPECT_ABSENT AND EXISTS "${EXPECT_ABSENT}")
    list(APPEND problems "'${EXPECT_ABSENT}' was written")
endif()
if(problems)
    string(REPLACE ";" "\n  " problems "${problems}")
    message(FATAL_ERROR "check_command: ${shown}\n  ${problems}\n--- output ---\n${output}")
endif()
message(STATUS "check_command: ${shown}: exit ${status}, as expected")
