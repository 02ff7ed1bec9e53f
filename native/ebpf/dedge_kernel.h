/*
 * The few kernel types and constants dedge_traffic.bpf.c needs, written by hand instead of a generated
 * multi-megabyte vmlinux.h, so the build does not depend on the build machine's kernel.
 *
 * Every struct is marked preserve_access_index: clang records each field access as a CO-RE relocation
 * (by struct and field NAME), and libbpf rewrites the offsets at load time from the running kernel's BTF
 * (/sys/kernel/btf/vmlinux). So only the fields used are listed, in any order, at any offset; a field
 * missing on a kernel makes the load fail (then the helper falls back to sock_diag and says why).
 *
 * Constants are the kernel's UAPI values (include/uapi/linux/bpf.h, include/linux/socket.h,
 * include/linux/sched.h).
 */
#ifndef DEDGE_KERNEL_H
#define DEDGE_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* include/uapi/linux/bpf.h */
enum {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_SK_STORAGE = 24,
};
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_SK_STORAGE_GET_F_CREATE (1ULL << 0)

/* include/linux/socket.h */
#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 0x2
#define MSG_ERRQUEUE 0x2000

/* include/linux/sched.h */
#define PF_EXITING 0x00000004
#define TASK_COMM_LEN 16

/* include/linux/pid_namespace.h: pid namespaces nest at most 32 deep (levels 0..32) */
#define MAX_PID_NS_LEVEL 32

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
  int counter;
} atomic_t;

struct sock_common {
  unsigned short skc_family;
};

struct sock {
  struct sock_common __sk_common;
  __u16 sk_protocol;
};

/* include/linux/tcp.h: RFC 4898 tcpEStatsPerfSegsOut / SegsIn, the counters tcp_info reports. */
struct tcp_sock {
  __u32 segs_in;
  __u32 segs_out;
};

struct signal_struct {
  atomic_t live;
};

/* include/linux/ns_common.h, include/linux/pid_namespace.h, include/linux/pid.h: a task's number in
 * each pid namespace from the initial one (level 0) down to its own (pid->level). */
struct ns_common {
  unsigned int inum;
};

struct pid_namespace {
  struct ns_common ns;
};

struct upid {
  int nr;
  struct pid_namespace *ns;
};

struct pid {
  unsigned int level;
  struct upid numbers[1];
};

struct task_struct {
  unsigned int flags;
  int pid;
  int tgid;
  struct task_struct *real_parent;
  struct task_struct *group_leader;
  struct signal_struct *signal;
  struct pid *thread_pid;
  char comm[TASK_COMM_LEN];
};

#pragma clang attribute pop

#endif
