# NativeProb — MIT License.
# CTest driver of the consumer tests: install the build tree into a fresh prefix (or, with -DFROM_ARCHIVE=ON,
# write the release archive with CPack and unpack it), then configure, build and run native/examples/consumer
# against it with find_package(NativeProb), and build host.c with pkg-config.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DFROM_ARCHIVE=ON] -P run_consumer_test.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " text "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${text}")
  endif()
endfunction()

if(FROM_ARCHIVE)
  run(${CMAKE_CPACK_COMMAND} -G TGZ --config "${BUILD_DIR}/CPackConfig.cmake" -B "${WORK_DIR}/archive")
  file(GLOB archive "${WORK_DIR}/archive/NativeProb-*-Linux.tar.gz")
  list(LENGTH archive count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "expected one NativeProb-<version>-Linux.tar.gz, found: ${archive}")
  endif()
  file(ARCHIVE_EXTRACT INPUT "${archive}" DESTINATION "${WORK_DIR}/unpacked")
  file(GLOB prefix LIST_DIRECTORIES true "${WORK_DIR}/unpacked/NativeProb-*-Linux")
  foreach(f include/nativeprob.h include/nativeprob.hpp lib/libnativeprob.so lib/pkgconfig/nativeprob.pc
            lib/cmake/NativeProb/NativeProbConfig.cmake lib/nativeprob/libnativeprob-v3.so lib/nativeprob/libnativeprob-v4.so)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "the archive lacks ${f}")
    endif()
  endforeach()
else()
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/native/examples/consumer" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${prefix}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
run("${WORK_DIR}/build/consumer_cpp")

# pkg-config: the same library through nativeprob.pc.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs nativeprob OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs nativeprob failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(cc -std=c11 -Wall -Wextra -Werror "${SOURCE_DIR}/native/examples/host.c" ${flags} -lm
    "-Wl,-rpath,${prefix}/lib" -o "${WORK_DIR}/host_pkgconfig")
run("${WORK_DIR}/host_pkgconfig")
message(STATUS "consumer: find_package and pkg-config builds ran")
