# Run a command and check its exit status and output together (ctest's PASS_REGULAR_EXPRESSION
# alone ignores the exit status, so an error test would pass on a command that exits 0).
#   cmake -DEXPECT_EXIT=<N|error> [-DEXPECT_REGEX=<regex>] [-DFORBID_REGEX=<regex>]
#         [-DEXPECT_PRESENT=<file>] [-DEXPECT_ABSENT=<file>] [-DUNSET_ENV=VAR1,VAR2]
#         [-DTHEN_REGEX=<regex>] [-DSKIP_EXIT=<N>]
#         -P check_command.cmake -- <command> [args...] [--then <read-back command> [args...]]
# EXPECT_EXIT=error requires an exit status from 1 to 125 (an error reported by the program),
# never a crash or a signal. Standard output and standard error are checked together.
# EXPECT_PRESENT names a file the command must write, EXPECT_ABSENT one it must not write; both
# are removed before the command runs. A read-back command after --then runs once the first has
# passed its checks; it must exit 0 and its output must match THEN_REGEX (for instance
# `xrestore metrics` computing the PSNR of a file the command wrote). SKIP_EXIT=N: a command that
# exits with N is reported as skipped (pair it with the test property SKIP_REGULAR_EXPRESSION
# "check_command: skipped"). UNSET_ENV removes variables from the command's environment.
cmake_policy(SET CMP0054 NEW) # quoted words in if() are strings, never variables
set(command)
set(then_command)
set(part before_separator)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
    if(part STREQUAL "before_separator" AND "${CMAKE_ARGV${i}}" STREQUAL "--")
        set(part in_command)
    elseif(part STREQUAL "in_command" AND "${CMAKE_ARGV${i}}" STREQUAL "--then")
        set(part in_read_back)
    elseif(part STREQUAL "in_command")
        list(APPEND command "${CMAKE_ARGV${i}}")
    elseif(part STREQUAL "in_read_back")
        list(APPEND then_command "${CMAKE_ARGV${i}}")
    endif()
endforeach()
if(part STREQUAL "in_read_back" AND NOT then_command)
    message(FATAL_ERROR "check_command: no command after --then")
endif()
if(NOT command)
    message(FATAL_ERROR "check_command: no command after --")
endif()
if(NOT DEFINED EXPECT_EXIT)
    set(EXPECT_EXIT 0)
endif()

if(DEFINED UNSET_ENV)
    string(REPLACE "," ";" unset_list "${UNSET_ENV}")
    foreach(variable IN LISTS unset_list)
        unset(ENV{${variable}})
    endforeach()
endif()
foreach(path IN ITEMS ${EXPECT_PRESENT} ${EXPECT_ABSENT})
    file(REMOVE "${path}")
endforeach()
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
string(REPLACE ";" " " shown "${command}")
if(DEFINED SKIP_EXIT AND status STREQUAL SKIP_EXIT)
    message(STATUS "check_command: skipped (exit ${status}): ${shown}\n${output}")
    return()
endif()
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
if(then_command)
    execute_process(COMMAND ${then_command} RESULT_VARIABLE then_status OUTPUT_VARIABLE then_output
        ERROR_VARIABLE then_output)
    string(REPLACE ";" " " then_shown "${then_command}")
    set(problems)
    if(NOT then_status STREQUAL "0")
        list(APPEND problems "expected exit status 0, got '${then_status}'")
    endif()
    if(DEFINED THEN_REGEX AND NOT then_output MATCHES "${THEN_REGEX}")
        list(APPEND problems "the output does not match '${THEN_REGEX}'")
    endif()
    if(problems)
        string(REPLACE ";" "\n  " problems "${problems}")
        message(FATAL_ERROR
            "check_command: read back by ${then_shown}\n  ${problems}\n--- output ---\n${then_output}")
    endif()
    message(STATUS "check_command: read back by ${then_shown}: as expected")
endif()
