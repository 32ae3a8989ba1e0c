# The offline tools (quire journal|entrylog|index): included from CMakeLists.txt.
target_sources(quire_cli PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/offline_dump.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/offline_rebuild.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/offline_tools.cc
)
