// SPDX-License-Identifier: MIT OR GPL-2.0
//
// das_steer: the XDP program of the AF_XDP port. A software Flow Director: it puts a das
// frame (outer destination MAC 02:44:41:53:NN:QQ, EtherType 0x894F, see
// docs/METADATA.md) into the AF_XDP socket of logical queue QQ on the device queue the
// frame arrived on, and passes every other frame to the kernel.
//
// Self-contained (no kernel or libbpf headers) so that building it needs clang alone:
//   clang -O2 -g -target bpf -c steer.bpf.c -o steer.bpf.o

typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

// From linux/bpf.h (stable kernel ABI).
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_XSKMAP 17
#define XDP_DROP 1
#define XDP_PASS 2

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

// Helper ids from linux/bpf.h.
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)51;

// Largest key of das_xsks: device queue id * logical queues + logical queue.
#define MAX_SOCKETS 1024

// Sockets by key: device queue id * logical queues per device queue + logical queue.
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_SOCKETS);
	__type(key, __u32);
	__type(value, __u32);
} das_xsks SEC(".maps");

// Settings written by the port before it attaches the program:
// [0] logical queues per device queue, [1] steering on (1) or off (0).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} das_cfg SEC(".maps");

SEC("xdp")
int das_steer(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 k_queues = 0, k_steer = 1;
	__u32 *queues = bpf_map_lookup_elem(&das_cfg, &k_queues);
	__u32 *steer = bpf_map_lookup_elem(&das_cfg, &k_steer);
	__u32 logical = 0;

	if (!queues || !steer || *queues == 0)
		return XDP_PASS;
	if (*steer) {
		if (data + 14 > end)
			return XDP_PASS;
		// 02:44:41:53 is "\x02DAS"; bytes 12-13 the EtherType (NSH).
		if (data[0] != 0x02 || data[1] != 0x44 || data[2] != 0x41 || data[3] != 0x53 ||
		    data[12] != 0x89 || data[13] != 0x4f)
			return XDP_PASS;
		logical = data[5];
		// A queue the port does not serve: the kernel decides.
		if (logical >= *queues)
			return XDP_PASS;
	}
	// With no socket at the key, the low bits of the flags are the action: XDP_PASS.
	return bpf_redirect_map(&das_xsks, ctx->rx_queue_index * *queues + logical, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
