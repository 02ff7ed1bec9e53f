// SPDX-License-Identifier: GPL-2.0
/*
 * dedge_traffic: per-process (thread group) TCP and UDP traffic counters, kept in the kernel so that
 * nothing escapes between two samples: sockets that live less than a millisecond, processes that exit
 * between samples, a new connection per write. Loaded by dedge-sockdiag (../sockdiag/dedge-sockdiag.c),
 * which reads the maps on request.
 *
 * Maps (names start with "dedge" so `bpftool map list | grep dedge` finds them):
 *   dedge_procs    hash   tgid -> struct dedge_proc (counters, ppid, comm, exited flag)
 *   dedge_forks    LRU    child tgid -> parent tgid, recorded at fork, dropped at exit
 *   dedge_sk_segs  sk storage per TCP socket: owner tgid and the segment counters last accounted
 *   dedge_stats    array  what could not be recorded
 *
 * Hooks. Only tracepoints, through tp_btf (BTF-typed arguments): they are a stable kernel interface, and
 * they work where function entry/exit hooks do not (kernels without kprobes; this project's CI kernel
 * refuses fentry/fexit programs with EPERM). The send/receive ones fire in the context of the task doing
 * the call, so the current task names the process (threads count with their thread group):
 *   sock:sock_send_length (net/socket.c, sock_sendmsg_nosec; Linux 6.3)  every sendmsg on a socket,
 *       with its return value: write/send/sendto/sendmsg, sendmmsg (once per message), io_uring sends,
 *       sendfile and splice to a socket (since Linux 6.5 those are sendmsg with MSG_SPLICE_PAGES),
 *       kTLS (plaintext bytes, the socket's proto is TLS over TCP). Counted for TCP, UDP and UDP-Lite
 *       sockets of AF_INET and AF_INET6 (an IPv4-mapped peer goes through the same one call, so it
 *       counts once): bytes_out += return value when >= 0.
 *   sock:sock_recv_length (sock_recvmsg_nosec)  every recvmsg: read/recv/recvfrom/recvmsg, recvmmsg
 *       (once per datagram/message), io_uring receives. bytes_in += return value, except MSG_PEEK and
 *       MSG_ERRQUEUE (nothing consumed / not traffic). UDP with MSG_TRUNC returns the datagram's full
 *       length, which is what arrived.
 *   Packets: a UDP packet is a datagram: 1 per successful send (a corked MSG_MORE sequence counts one
 *       per call; one UDP_SEGMENT GSO send counts one) or receive. A TCP packet is a segment on the wire
 *       (tcp_sock.segs_out / segs_in, what tcp_info reports, handshake and pure ACKs included, same as
 *       the sock_diag fallback). Segments move in softirq context, not the process's, so at each TCP
 *       send/receive the socket's counters are compared with the values last accounted (kept in
 *       dedge_sk_segs) and the difference goes to the caller; at tcp:tcp_destroy_sock
 *       (tcp_v4_destroy_sock, both families) what is left goes to the socket's last owner. A socket is
 *       first seen with counters from 0, so a socket that lives less than a millisecond is counted whole.
 *   sched:sched_process_fork  a new thread group's parent tgid (dedge_forks), so a short-lived child
 *       is attributed to the program that forked it even after that program exited or the child was
 *       reparented.
 *   sched:sched_process_exit  when a thread group's last thread exits (signal->live reached 0), its
 *       dedge_procs entry is flagged exited with its comm at exit; the reader deletes it once read.
 *   comm is always the group leader's (what /proc/PID/comm shows), not the calling thread's.
 *
 * Process numbers are those of the READER's pid namespace (dedge_pidns_ino, set by the helper before
 * loading: the inode of its /proc/self/ns/pid), so an agent in a container or a private pid namespace
 * gets the numbers its /proc shows. In the initial namespace that is task->tgid as is. A task not
 * visible from the reader's namespace (it lives in an ancestor or sibling namespace) counts under key 0:
 * the traffic of processes outside the reader's view, one aggregate record (never exited), so it is
 * reported as such instead of being lost or confused with a visible process.
 *
 * Not counted: splice from a TCP socket into a pipe (tcp_splice_read does not go through recvmsg),
 * TCP_ZEROCOPY_RECEIVE (mmap'd receive), kernel sockets, raw and SCTP sockets. Traffic a kernel thread
 * moves for a process (e.g. NFS) counts for the kernel thread.
 *
 * Kernel needs: BTF (CONFIG_DEBUG_INFO_BTF), tp_btf (5.5), sk storage from tracing programs (5.11), the
 * sock_send_length / sock_recv_length tracepoints (6.3). Where any is missing the load fails and
 * dedge-sockdiag reports why and serves sock_diag only.
 */
#include "dedge_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "dedge_traffic.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the helper before loading (read-only afterwards): inode of the reader's pid namespace, 0 for the
 * initial one. */
const volatile __u32 dedge_pidns_ino = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, DEDGE_PROCS_MAX);
  __type(key, __u32);
  __type(value, struct dedge_proc);
} dedge_procs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, DEDGE_FORKS_MAX);
  __type(key, __u32);
  __type(value, struct dedge_fork);
} dedge_forks SEC(".maps");

struct sk_seen {
  __u32 owner; /* in the reader's pid namespace; 0 = outside it (see ns_tgid) */
  __u32 segs_out;
  __u32 segs_in;
  __u32 has_owner;
};

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct sk_seen);
} dedge_sk_segs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct dedge_stats);
} dedge_stats SEC(".maps");

static __always_inline void note_procs_full(void) {
  __u32 zero = 0;
  struct dedge_stats *s = bpf_map_lookup_elem(&dedge_stats, &zero);
  if (s) __sync_fetch_and_add(&s->procs_full, 1);
}

/* The thread group has no live thread left (do_exit decrements signal->live before the exit tracepoint). */
static __always_inline bool group_dead(struct task_struct *task) {
  return BPF_CORE_READ(task, signal, live.counter) == 0;
}

/*
 * The thread group's number in the reader's pid namespace, 0 when not visible from it: the group leader's
 * struct pid holds one number per level from the initial namespace (0) down to its own; the reader's
 * namespace is the level whose namespace inode matches (include/linux/pid.h, pid_nr_ns()).
 */
static __always_inline __u32 ns_tgid(struct task_struct *task) {
  if (dedge_pidns_ino == 0) return BPF_CORE_READ(task, tgid);
  struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
  if (!pid) return 0;
  unsigned int level = BPF_CORE_READ(pid, level);
  for (int i = 0; i <= MAX_PID_NS_LEVEL; i++) {
    if (i > level) break;
    struct upid up;
    if (bpf_core_read(&up, sizeof up, &pid->numbers[i])) return 0;
    if (BPF_CORE_READ(up.ns, ns.inum) == dedge_pidns_ino) return (__u32)up.nr;
  }
  return 0;
}

static __always_inline struct dedge_proc *proc_of(__u32 tgid, struct task_struct *task) {
  struct dedge_proc *p = bpf_map_lookup_elem(&dedge_procs, &tgid);
  if (p) return p;
  struct dedge_proc init = {};
  init.first_ns = bpf_ktime_get_ns();
  if (tgid == 0) {
    /* processes outside the reader's pid namespace: one aggregate entry, no name, never exited */
    bpf_map_update_elem(&dedge_procs, &tgid, &init, BPF_NOEXIST);
    p = bpf_map_lookup_elem(&dedge_procs, &tgid);
    if (!p) note_procs_full();
    return p;
  }
  init.uid = (__u32)bpf_get_current_uid_gid();
  /* The process's name is its group leader's (what /proc/PID/comm shows); threads may rename themselves. */
  struct task_struct *leader = BPF_CORE_READ(task, group_leader);
  bpf_probe_read_kernel_str(init.comm, sizeof init.comm, leader->comm);
  struct dedge_fork *f = bpf_map_lookup_elem(&dedge_forks, &tgid);
  if (f) {
    init.ppid = f->ppid;
    init.flags |= DEDGE_PROC_PPID_FORK;
  } else {
    init.ppid = ns_tgid(BPF_CORE_READ(task, real_parent));
  }
  /* Sockets are closed after the exit tracepoint (exit_files, then task work): traffic counted then,
   * after the reader took the exited entry away, starts a new entry that is already exited. */
  if ((BPF_CORE_READ(task, flags) & PF_EXITING) && group_dead(task)) {
    init.flags |= DEDGE_PROC_EXITED;
    init.exit_ns = init.first_ns;
    __builtin_memcpy(init.exit_comm, init.comm, sizeof init.comm);
  }
  /* NOEXIST: another CPU may have created it meanwhile; then use that one. */
  if (bpf_map_update_elem(&dedge_procs, &tgid, &init, BPF_NOEXIST) != 0) {
    p = bpf_map_lookup_elem(&dedge_procs, &tgid);
    if (!p) note_procs_full();
    return p;
  }
  return bpf_map_lookup_elem(&dedge_procs, &tgid);
}

static __always_inline struct dedge_proc *current_proc(__u32 *tgid) {
  struct task_struct *task = bpf_get_current_task_btf();
  *tgid = ns_tgid(task);
  return proc_of(*tgid, task);
}

/* Segments of `sk` not yet accounted, to `p` (or, p == 0, to the socket's last owner). */
static __always_inline void account_segs(struct sock *sk, struct dedge_proc *p, __u32 tgid, bool create) {
  struct sk_seen *seen = bpf_sk_storage_get(&dedge_sk_segs, sk, 0, create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
  if (!seen) {
    if (create) {
      __u32 zero = 0;
      struct dedge_stats *s = bpf_map_lookup_elem(&dedge_stats, &zero);
      if (s) __sync_fetch_and_add(&s->storage_fail, 1);
    }
    return;
  }
  struct tcp_sock *tp = (struct tcp_sock *)sk;
  __u32 out = BPF_CORE_READ(tp, segs_out);
  __u32 in = BPF_CORE_READ(tp, segs_in);
  __u32 d_out = out - __sync_lock_test_and_set(&seen->segs_out, out);
  __u32 d_in = in - __sync_lock_test_and_set(&seen->segs_in, in);
  if (p) {
    seen->owner = tgid;
    seen->has_owner = 1;
  } else {
    __u32 owner = seen->owner;
    if (!seen->has_owner) return;
    p = bpf_map_lookup_elem(&dedge_procs, &owner);
    if (!p) return;
  }
  /* Two CPUs racing on one socket may swap in values out of order: never count a negative step. */
  if ((__s32)d_out > 0) __sync_fetch_and_add(&p->packets_out, d_out);
  if ((__s32)d_in > 0) __sync_fetch_and_add(&p->packets_in, d_in);
}

static __always_inline void tcp_count(struct sock *sk, __u64 bytes_out, __u64 bytes_in) {
  __u32 tgid;
  struct dedge_proc *p = current_proc(&tgid);
  if (!p) return;
  if (bytes_out) __sync_fetch_and_add(&p->bytes_out, bytes_out);
  if (bytes_in) __sync_fetch_and_add(&p->bytes_in, bytes_in);
  if (sk) account_segs(sk, p, tgid, true);
}

static __always_inline void udp_count(__u64 bytes_out, __u64 bytes_in, bool out) {
  __u32 tgid;
  struct dedge_proc *p = current_proc(&tgid);
  if (!p) return;
  if (out) {
    __sync_fetch_and_add(&p->bytes_out, bytes_out);
    __sync_fetch_and_add(&p->packets_out, 1);
  } else {
    __sync_fetch_and_add(&p->bytes_in, bytes_in);
    __sync_fetch_and_add(&p->packets_in, 1);
  }
}

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_UDPLITE 136

/* 6 (TCP), 17 (UDP, UDP-Lite) for AF_INET / AF_INET6 sockets, else 0. */
static __always_inline int traffic_proto(struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != AF_INET && family != AF_INET6) return 0;
  __u16 protocol = BPF_CORE_READ(sk, sk_protocol);
  if (protocol == IPPROTO_TCP) return IPPROTO_TCP;
  if (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE) return IPPROTO_UDP;
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(dedge_send, struct sock *sk, int ret, int flags) {
  if (ret < 0 || !sk) return 0;
  int proto = traffic_proto(sk);
  if (proto == IPPROTO_TCP) tcp_count(sk, (__u64)ret, 0);
  else if (proto == IPPROTO_UDP) udp_count((__u64)ret, 0, true);
  return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(dedge_recv, struct sock *sk, int ret, int flags) {
  if (ret < 0 || !sk || (flags & (MSG_PEEK | MSG_ERRQUEUE))) return 0;
  int proto = traffic_proto(sk);
  if (proto == IPPROTO_TCP) tcp_count(sk, 0, (__u64)ret);
  else if (proto == IPPROTO_UDP) udp_count(0, (__u64)ret, false);
  return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(dedge_tcp_destroy, struct sock *sk) {
  account_segs(sk, 0, 0, false);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(dedge_fork, struct task_struct *parent, struct task_struct *child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0; /* a new thread, not a new process */
  __u32 tgid = ns_tgid(child);
  if (tgid == 0) return 0; /* not visible to the reader */
  struct dedge_fork f = {.ppid = ns_tgid(parent)};
  bpf_map_update_elem(&dedge_forks, &tgid, &f, BPF_ANY);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(dedge_exit, struct task_struct *task) {
  if (!group_dead(task)) return 0; /* other threads of the group still run */
  __u32 tgid = ns_tgid(task);
  if (tgid == 0) return 0; /* the aggregate of processes outside the reader's view never exits */
  bpf_map_delete_elem(&dedge_forks, &tgid);
  struct dedge_proc *p = bpf_map_lookup_elem(&dedge_procs, &tgid);
  if (!p) return 0;
  p->exit_ns = bpf_ktime_get_ns();
  struct task_struct *leader = BPF_CORE_READ(task, group_leader);
  bpf_probe_read_kernel_str(p->exit_comm, sizeof p->exit_comm, leader->comm);
  __sync_fetch_and_or(&p->flags, DEDGE_PROC_EXITED);
  return 0;
}
