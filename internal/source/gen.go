package source

// The BPF object and its Go bindings are generated and committed, so that
// `go build` needs no clang. `make generate` reruns this with the pinned
// clang-19 and llvm-strip-19.
//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu -I../../bpf/headers" -target amd64,arm64 -type tcp_conn -type conn_record -type hot_sock -type flow_tuple -type udp_key -type udp_flow -type owner_want -type conn_flags -type conn_direction -type tcp_state -type dns_record -type drop_key tcptop ../../bpf/tcptop.bpf.c
