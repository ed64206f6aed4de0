# Hostile inputs and bad arguments end to end (included by tests/cli/CMakeLists.txt): each test
# checks the exit status and the message together, and the files left behind, through
# tests/check_command.cmake (${check_command}).
# The inputs (16000 x 16000 PNGs of a few MB, a black and a constant photo, a sidecar and a grid
# nested 100,000 levels deep...) are written by cli_test_inputs (make_test_inputs.cpp) once, by
# the fixture test cli_reliability_inputs.
set(rel ${CMAKE_CURRENT_BINARY_DIR}/reliability)
set(in ${rel}/inputs)
add_executable(cli_test_inputs ${CMAKE_CURRENT_SOURCE_DIR}/make_test_inputs.cpp)
target_link_libraries(cli_test_inputs PRIVATE xrestore::xrestore xrestore_project_options)
add_test(NAME cli_reliability_inputs
    COMMAND $<TARGET_FILE:cli_test_inputs> ${in} ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_reliability_inputs PROPERTIES FIXTURES_SETUP cli_reliability_inputs)

# reliability_test(NAME CHECK... -- COMMAND...): COMMAND through ${check_command}, with the
# inputs. CHECKs: --status 0|error, --match REGEX, --no-match REGEX, --file PATH (written),
# --no-file PATH (not written), --file-match PATH REGEX, --no-glob PATTERN (after the run);
# --fresh DIR (emptied), --write PATH TEXT (before it); --address-space KB (ulimit -v).
function(reliability_test name)
    set(defines)
    set(prefix)
    foreach(kind match no_match file no_file file_match write)
        set(${kind}_n 0)
    endforeach()
    set(suffixes "" _2 _3 _4 _5)
    set(rest ${ARGN})
    while(rest)
        list(POP_FRONT rest option)
        if(option STREQUAL "--")
            break()
        endif()
        list(POP_FRONT rest value)
        if(option STREQUAL "--status")
            list(APPEND defines "-DEXPECT_EXIT=${value}")
        elseif(option STREQUAL "--fresh")
            list(APPEND defines "-DFRESH_DIR=${value}")
        elseif(option STREQUAL "--no-glob")
            list(APPEND defines "-DABSENT_GLOB=${value}")
        elseif(option STREQUAL "--address-space")
            set(prefix sh -c "ulimit -v ${value} && exec \"$0\" \"$@\"")
        else()
            string(REGEX REPLACE "^--" "" kind "${option}")
            string(REPLACE "-" "_" kind "${kind}")
            list(GET suffixes ${${kind}_n} n)
            math(EXPR ${kind}_n "${${kind}_n} + 1")
            if(kind STREQUAL "match")
                list(APPEND defines "-DEXPECT_REGEX${n}=${value}")
            elseif(kind STREQUAL "no_match")
                list(APPEND defines "-DFORBID_REGEX${n}=${value}")
            elseif(kind STREQUAL "file")
                list(APPEND defines "-DEXPECT_PRESENT${n}=${value}")
            elseif(kind STREQUAL "no_file")
                list(APPEND defines "-DEXPECT_ABSENT${n}=${value}")
            elseif(kind STREQUAL "file_match")
                list(POP_FRONT rest pattern)
                list(APPEND defines "-DEXPECT_FILE${n}=${value}" "-DEXPECT_FILE_REGEX${n}=${pattern}")
            elseif(kind STREQUAL "write")
                list(POP_FRONT rest text)
                list(APPEND defines "-DWRITE_FILE${n}=${value}" "-DWRITE_TEXT${n}=${text}")
            else()
                message(FATAL_ERROR "reliability_test(${name}): unknown check ${option}")
            endif()
        endif()
    endwhile()
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} ${defines} -P ${check_command} -- ${prefix} ${rest})
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED cli_reliability_inputs
        ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=passive" TIMEOUT 120)
endfunction()

# Grids for compare (paths absolute).
set(grid_ok ${rel}/grid_ok.json)
file(WRITE ${grid_ok} "{\"crop\": 32, \"images\": [\"${butterfly}\"],
 \"degradations\": [{\"name\": \"box3\", \"op\": \"blur\", \"kernel\": \"box:3\"}],
 \"solvers\": [{\"solver\": \"tv\", \"iters\": 2}]}\n")
set(grid_fails_midway ${rel}/grid_fails_midway.json)
file(WRITE ${grid_fails_midway} "{\"crop\": 32, \"images\": [\"${butterfly}\"],
 \"degradations\": [{\"name\": \"box3\", \"op\": \"blur\", \"kernel\": \"box:3\"}],
 \"solvers\": [{\"solver\": \"tv\", \"iters\": 2},
  {\"solver\": \"pnp-admm\", \"iters\": 2,
   \"denoiser\": \"unet:${PROJECT_SOURCE_DIR}/tests/data/unet/c8_p2_3to1.pth\"}]}\n")
set(grid_negative_crop ${rel}/grid_negative_crop.json)
file(WRITE ${grid_negative_crop} "{\"crop\": -5, \"images\": [\"${butterfly}\"],
 \"degradations\": [{\"op\": \"blur\"}], \"solvers\": [{\"solver\": \"tv\"}]}\n")
set(weights ${PROJECT_SOURCE_DIR}/models/denoiser_unet_c32.pth)

# 1. JSON nested 100,000 levels deep: was a stack overflow (SIGSEGV) in every command reading it
set(deep_message "sidecar '[^']*weights.json' must nest JSON at most 64 levels deep, got 100001")
reliability_test(cli_denoise_sidecar_nested_100000_levels --status error --match "${deep_message}"
    -- ${cli} denoise ${in}/y.npy ${rel}/unused.npy --weights ${in}/deep/weights.pth)
reliability_test(cli_convert_sidecar_nested_100000_levels --status error --match "${deep_message}"
    -- ${cli} convert ${in}/deep/weights.pth ${rel}/unused.safetensors)
reliability_test(cli_restore_unet_sidecar_nested_100000_levels --status error
    --match "${deep_message}"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op inpaint --solver pnp-admm
        --denoiser unet:${in}/deep/weights.pth)
reliability_test(cli_compare_grid_nested_100000_levels --status error
    --match "compare: grid file '[^']*deep_grid.json' must nest JSON at most 64 levels deep"
    -- ${cli} compare --grid ${in}/deep_grid.json --out ${rel}/compare_deep)

# 3. Memory: 16000 x 16000 PNGs of a few MB need GBs once decoded; refused up front with the
# estimate, and an allocation that fails anyway says what it was for
reliability_test(cli_degrade_refuses_a_16000x16000_rgb_png_over_max_memory --status error
    --fresh ${rel}/big --match "degrade: this run needs about [0-9.]+ GB of memory"
    --match "decoding IN '[^']*big_rgb.png' \\(3 x 16000 x 16000\\): [0-9.]+ GB"
    --match "more than --max-memory 2 GB"
    --no-file ${rel}/big/big_rgb_out.npy
    -- ${cli} degrade ${in}/big_rgb.png ${rel}/big/big_rgb_out.npy --max-memory 2)
reliability_test(cli_degrade_refuses_a_1_bit_16000x16000_png_over_max_memory --status error
    --match "decoding IN '[^']*big_1bit.png' \\(1 x 16000 x 16000\\)"
    --match "more than --max-memory 2 GB"
    -- ${cli} degrade ${in}/big_1bit.png ${rel}/big_1bit_out.npy --max-memory 2)
# (not under AddressSanitizer: its shadow memory cannot be mapped inside a capped address space)
if(NOT XRESTORE_SANITIZE)
    reliability_test(cli_out_of_memory_says_what_was_being_allocated --status error
        --address-space 3500000
        --match "xrestore: error: out of memory while reading IN '[^']*big_rgb.png' \\(3 x 16000 x 16000\\)"
        --no-match "unexpected error"
        -- ${cli} degrade ${in}/big_rgb.png ${rel}/big_rgb_out.npy --max-memory 100)
endif()
reliability_test(cli_max_memory_must_be_positive --status error
    --match "--max-memory: must be a number of GB > 0, got '0'"
    -- ${cli} degrade ${in}/y.npy ${rel}/unused.npy --max-memory 0)

# ... the estimate of a downsample restore without --ref counts the upsampled image (Y is
# 3 x 32 x 32 here, X 3 x 128 x 128 with --factor 4: 16 images of X take 3.1 MB, of Y 0.2 MB)
reliability_test(cli_restore_downsample_memory_counts_the_upsampled_image --status error
    --match "restore: this run needs about 0.0 GB of memory \\(tv's working set \\(about 16 images\\)"
    --match "more than --max-memory 0.002 GB"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op downsample --factor 4 --solver tv
        --iters 2 --max-memory 0.002)

# 4. Two outputs naming one file, or an output naming an input: refused before anything is
# written (the input is still a .npy afterwards)
reliability_test(cli_restore_history_must_not_be_the_output --status error --fresh ${rel}/history
    --match "restore: --history '[^']*same.png' must be another file than OUT '[^']*same.png'"
    --no-file ${rel}/history/same.png
    -- ${cli} restore ${in}/y.npy ${rel}/history/same.png --op blur --kernel box:3 --solver tv
        --iters 2 --history ${rel}/history/../history/same.png)
reliability_test(cli_denoise_noisy_out_must_not_be_the_output --status error
    --match "denoise: --noisy-out '[^']*' must be another file than OUT"
    -- ${cli} denoise ${in}/y.npy ${rel}/d.npy --weights ${weights} --sigma 0.1
        --noisy-out ${rel}/./d.npy)
reliability_test(cli_degrade_mask_out_must_not_be_the_output --status error
    --match "degrade: --mask-out '[^']*' must be another file than OUT"
    -- ${cli} degrade ${in}/y.npy ${rel}/m.npy --op inpaint --mask-out ${rel}/m.npy)
reliability_test(cli_degrade_output_must_not_be_the_input --status error
    --match "degrade: OUT '[^']*' must not be the input IN '[^']*y.npy', got the same file"
    --file-match ${in}/y.npy "NUMPY"
    -- ${cli} degrade ${in}/y.npy ${in}/../inputs/y.npy --op blur --kernel box:3)

# 5. Output folders and extensions checked before the computation: these runs would take
# minutes (--iters 100000), so a late check times out
reliability_test(cli_restore_unknown_extension_fails_at_once --status error
    --match "restore: OUT '[^']*x.tif' must end in .png or .npy, got '.tif'"
    -- ${cli} restore ${in}/y.npy ${rel}/x.tif --op blur --kernel box:3 --solver tv --iters 100000)
reliability_test(cli_restore_missing_folder_fails_at_once --status error
    --match "restore: OUT '[^']*no_such_folder/x.png' must be in an existing folder, got '[^']*no_such_folder', which does not exist"
    -- ${cli} restore ${in}/y.npy ${rel}/no_such_folder/x.png --op blur --kernel box:3 --solver tv
        --iters 100000)
reliability_test(cli_restore_output_that_is_a_folder_fails_at_once --status error
    --match "restore: OUT '[^']*' must name a file, got a folder"
    -- ${cli} restore ${in}/y.npy ${in}/deep --op blur --kernel box:3 --solver tv --iters 100000)
reliability_test(cli_degrade_unknown_extension --status error
    --match "degrade: OUT '[^']*x.jpg' must end in .png or .npy, got '.jpg'"
    -- ${cli} degrade ${in}/y.npy ${rel}/x.jpg)
reliability_test(cli_denoise_unknown_extension --status error
    --match "denoise: OUT '[^']*x.tiff' must end in .png or .npy"
    -- ${cli} denoise ${in}/y.npy ${rel}/x.tiff --weights ${weights})
reliability_test(cli_convert_unknown_extension --status error
    --match "convert: OUT '[^']*x.pth' must end in .safetensors, got '.pth'"
    -- ${cli} convert ${weights} ${rel}/x.pth)
reliability_test(cli_compare_out_that_is_a_file --status error
    --match "compare: --out '[^']*y.npy' must be a folder, got a file"
    -- ${cli} compare --grid ${grid_ok} --out ${in}/y.npy)
reliability_test(cli_study_out_that_is_a_file --status error
    --match "study: --out '[^']*y.npy' must be a folder, got a file"
    -- ${cli} study --out ${in}/y.npy --size 64)
reliability_test(cli_compare_refuses_to_replace_a_folder_it_did_not_write --status error
    --fresh ${rel}/not_a_report --write ${rel}/not_a_report/notes.txt "my notes"
    --match "compare: --out '[^']*not_a_report' must be a new or empty folder, or one an earlier run wrote \\(with results.md\\)"
    --file-match ${rel}/not_a_report/notes.txt "my notes"
    -- ${cli} compare --grid ${grid_ok} --out ${rel}/not_a_report)

# 6. The study on a black and on a constant photo: MSE 0 (or constant) defeated the log-axis
# plot at the very end, leaving 62 files and no report
foreach(photo black constant)
    reliability_test(cli_study_on_a_${photo}_photo --status 0 --fresh ${rel}/study_${photo}
        --match "study: report: .*report.md"
        --file ${rel}/study_${photo}/report.md
        --file-match ${rel}/study_${photo}/report.md "## 6. The classical baselines"
        --file ${rel}/study_${photo}/results.json
        --file ${rel}/study_${photo}/plot_mse_deblur_p13.png
        -- ${cli} study --image ${in}/${photo}.png --out ${rel}/study_${photo} --size 64
            --iters 2 --curve-iters 4 --red-iters 2 --baseline-iters 3 --patience 2)
    set_tests_properties(cli_study_on_a_${photo}_photo PROPERTIES TIMEOUT 600)
endforeach()

# ... and a figure that cannot be drawn (here: no font for any of them) leaves a note in the
# report where it would be, instead of losing the report
reliability_test(cli_study_without_figures_still_writes_its_report --status 0
    --fresh ${rel}/study_no_font
    --match "study: [0-9]+ figures could not be drawn"
    --file-match ${rel}/study_no_font/report.md "\\*\\(The plot `plot_mse_deblur_p13.png` could not be drawn: .*no_such_font.ttf"
    --file-match ${rel}/study_no_font/report.md "## 6. The classical baselines"
    --file ${rel}/study_no_font/results.json
    --no-file ${rel}/study_no_font/plot_mse_deblur_p13.png
    -- ${cli} study --out ${rel}/study_no_font --size 64 --iters 2 --curve-iters 4 --red-iters 2
        --baseline-iters 3 --patience 2)
set_tests_properties(cli_study_without_figures_still_writes_its_report PROPERTIES TIMEOUT 600
    ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=passive;XRESTORE_REPORT_FONT=${rel}/no_such_font.ttf")

# 8. Bad values: errors, not defaults or wrapped integers
reliability_test(cli_denoiser_strength_nan --status error
    --match "--denoiser-strength: must be a finite number, got nan"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op blur --denoiser-strength nan)
reliability_test(cli_denoiser_strength_negative --status error
    --match "--denoiser-strength: must be >= 0, got -1"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op blur --denoiser-strength -1)
reliability_test(cli_unsigned_flag_negative --status error
    --match "--factor: must be a non-negative integer, got -2"
    --no-match "18446744073709551614"
    -- ${cli} degrade ${in}/y.npy ${rel}/unused.npy --op downsample --factor -2)
# every unsigned option of every command (CLI11 would wrap -1 to 18446744073709551615)
set(unsigned_flags
    "degrade|--factor|--op downsample" "degrade|--levels|" "degrade|--seed|" "denoise|--seed|"
    "adjoint-check|--trials|" "adjoint-check|--seed|" "study|--size|" "study|--seed|")
foreach(case IN LISTS unsigned_flags)
    string(REPLACE "|" ";" parts "${case}")
    list(GET parts 0 command)
    list(GET parts 1 flag)
    list(GET parts 2 extra)
    separate_arguments(extra)
    set(inputs ${in}/y.npy ${rel}/unused.npy)
    if(command STREQUAL "adjoint-check" OR command STREQUAL "study")
        set(inputs)
    endif()
    string(REGEX REPLACE "^--" "" flag_name "${flag}")
    string(REPLACE "-" "_" test_name "cli_${command}_${flag_name}_negative")
    reliability_test(${test_name} --status error
        --match "${flag}: must be a non-negative integer, got -1"
        --no-match "18446744073709551615"
        -- ${cli} ${command} ${inputs} ${flag} -1 ${extra})
endforeach()
reliability_test(cli_compare_negative_crop --status error
    --match "compare: key 'crop' in the grid's top level must be a non-negative integer, got -5"
    -- ${cli} compare --grid ${grid_negative_crop} --out ${rel}/compare_crop)
reliability_test(cli_integer_npy_is_not_an_image --status error
    --match "load_array: '[^']*u8_2x3x4.npy' must hold float32 or float64 values in \\[0, 1\\], got integers \\(dtype \\|u1\\)"
    -- ${cli} degrade ${PROJECT_SOURCE_DIR}/tests/data/u8_2x3x4.npy ${rel}/unused.npy)

# 9. Messages that say what is wrong
reliability_test(cli_truncated_safetensors_says_truncated --status error
    --match "cut.safetensors': is truncated: header length"
    -- ${cli} denoise ${in}/y.npy ${rel}/unused.npy --weights ${in}/cut.safetensors)
reliability_test(cli_png_declaring_100000x100000 --status error
    --match "declares 100000 x 100000 pixels, more than the 268435456 accepted"
    --no-match "unknown image type"
    -- ${cli} degrade ${in}/declares_100000x100000.png ${rel}/unused.npy)
reliability_test(cli_png_declaring_0x0 --status error
    --match "declares an empty image \\(0 x 0\\)"
    -- ${cli} degrade ${in}/declares_0x0.png ${rel}/unused.npy)
reliability_test(cli_png_cut_after_its_header --status error
    --match "is truncated: it ends after 33 bytes, before any image data"
    --no-match "\\(\\)"
    -- ${cli} degrade ${in}/cut_after_header.png ${rel}/unused.npy)
reliability_test(cli_noise_beyond_range --status error
    --match "--noise: must be in \\[0, 1e\\+06\\], got 1e300"
    --no-match "write_png"
    -- ${cli} degrade ${in}/y.npy ${rel}/noisy.png --noise 1e300)
reliability_test(cli_eta_growth_overflowing --status error
    --match "options.eta_growth must be small enough that eta growth\\^\\(max_iter - 1\\) stays at most 1e30"
    --no-match "conjugate_gradient"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op blur --kernel box:3 --solver pnp-admm
        --denoiser gaussian --eta-growth 1e10 --iters 50)
reliability_test(cli_adjoint_check_negative_shape --status error
    --match "--shape: must be a non-negative integer, got -5"
    --no-match "bad_array_new_length"
    -- ${cli} adjoint-check --shape 3 -5 5)
reliability_test(cli_adjoint_check_zero_shape --status error
    --match "adjoint-check: --shape must be three positive extents, got 3 x 0 x 5"
    -- ${cli} adjoint-check --shape 3 0 5)
reliability_test(cli_restore_ref_of_another_size_names_the_ref --status error
    --match "restore: --ref '[^']*butterfly_set5.png' \\(3 x 256 x 256\\) must be the image Y '[^']*y.npy' was degraded from"
    -- ${cli} restore ${in}/y.npy ${rel}/unused.npy --op blur --kernel box:3 --ref ${butterfly})

# 10. Report folders are replaced whole: a compare that fails midway leaves the old report as it
# was (and no staging folder); one that completes replaces it, old files included
reliability_test(cli_compare_failing_midway_keeps_the_old_report --status error
    --fresh ${rel}/report_kept --write ${rel}/report_kept/results.md "OLD REPORT"
    --match "unet_denoiser: a denoiser needs as many output as input channels"
    --file-match ${rel}/report_kept/results.md "^OLD REPORT\n$"
    --no-file ${rel}/report_kept/results.csv
    --no-glob "${rel}/.report_kept.*"
    -- ${cli} compare --grid ${grid_fails_midway} --out ${rel}/report_kept)
reliability_test(cli_compare_replaces_an_earlier_report_whole --status 0
    --fresh ${rel}/report_replaced --write ${rel}/report_replaced/results.md "OLD REPORT"
    --write ${rel}/report_replaced/old_only.csv "from an earlier run"
    --file-match ${rel}/report_replaced/results.md "\\| box3 \\| tv \\|"
    --file ${rel}/report_replaced/results.csv
    --no-file ${rel}/report_replaced/old_only.csv
    --no-glob "${rel}/.report_replaced.*"
    -- ${cli} compare --grid ${grid_ok} --out ${rel}/report_replaced)
