#!/bin/sh
# build a real WASIX guest against the hand-built wasix-libc sysroot (never committed)
S=${WASIX_SYSROOT:?set WASIX_SYSROOT to a wasix-libc sysroot (see README)}
for p in "$@"; do
clang-19 --target=wasm32-wasi --sysroot=$S -O2 -matomics -mbulk-memory -mmutable-globals -pthread -mthread-model posix \
  -ftls-model=local-exec -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS \
  -o $p.wasm $p.c -lwasi-emulated-mman -lwasi-emulated-process-clocks -lwasi-emulated-getpid \
  -Wl,--shared-memory -Wl,--max-memory=4294967296 -Wl,--import-memory -Wl,--export-dynamic \
  -Wl,--export=__heap_base -Wl,--export=__stack_pointer -Wl,--export=__data_end -Wl,--export=__wasm_init_tls \
  -Wl,--export=__wasm_signal -Wl,--export=__tls_size -Wl,--export=__tls_align -Wl,--export=__tls_base || exit 1
done
