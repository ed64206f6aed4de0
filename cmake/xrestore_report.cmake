# The optional reporting module: xrestore::report (include/xrestore/report/, not in the umbrella
# header): plots, bar charts and image panels as PNG, with text in a TrueType font read through
# stb_truetype (libstb). The font file is found here and passed to the target as
# XRESTORE_REPORT_FONT; at run time the environment variable of the same name, or a plot's
# options.font, overrides it.
#   -DXRESTORE_REPORT_FONT=/path/to/font.ttf   use this font file (default: DejaVu Sans, from
#                                               Debian's fonts-dejavu-core)
find_file(XRESTORE_REPORT_FONT NAMES DejaVuSans.ttf
    PATHS /usr/share/fonts/truetype/dejavu /usr/share/fonts/TTF /usr/share/fonts/dejavu
        /usr/share/fonts/truetype /usr/local/share/fonts /opt/homebrew/share/fonts
    DOC "TrueType font of the report module's text (plots, panels)")

add_library(xrestore_report INTERFACE)
add_library(xrestore::report ALIAS xrestore_report)
set_target_properties(xrestore_report PROPERTIES EXPORT_NAME report)
target_link_libraries(xrestore_report INTERFACE xrestore)
if(XRESTORE_REPORT_FONT)
    message(STATUS "xrestore: report font ${XRESTORE_REPORT_FONT}")
    target_compile_definitions(xrestore_report INTERFACE
        XRESTORE_REPORT_FONT="${XRESTORE_REPORT_FONT}")
else()
    message(WARNING "xrestore: no font for the report module (DejaVuSans.ttf not found; install "
        "fonts-dejavu-core or set -DXRESTORE_REPORT_FONT=/path/to/font.ttf); plots then need "
        "the environment variable XRESTORE_REPORT_FONT or options.font at run time")
endif()
