/*
 * Layout shared by the eBPF program (dedge_traffic.bpf.c) and the helper that reads its maps
 * (../sockdiag/dedge-sockdiag.c). Fixed-width fields only, 8-byte aligned, no implicit padding.
 */
#ifndef DEDGE_TRAFFIC_H
#define DEDGE_TRAFFIC_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define DEDGE_COMM_LEN 16

/* dedge_proc.flags */
#define DEDGE_PROC_EXITED 1u      /* the whole thread group has exited (sched_process_exit, last thread) */
#define DEDGE_PROC_PPID_FORK 2u   /* ppid recorded when the process was forked (else its parent at first sight) */

/* Value of dedge_procs, keyed by tgid (__u32). Counters only ever grow while the entry lives. */
struct dedge_proc {
  __u64 bytes_out;   /* payload bytes the process handed to TCP/UDP (return value of the send functions) */
  __u64 bytes_in;    /* payload bytes the process took from TCP/UDP (return value of the receive functions) */
  __u64 packets_out; /* UDP datagrams sent + TCP segments sent on sockets it used (see dedge_traffic.bpf.c) */
  __u64 packets_in;
  __u64 first_ns;    /* bpf_ktime_get_ns() when first counted (CLOCK_MONOTONIC) */
  __u64 exit_ns;     /* when the thread group exited, 0 while it lives */
  __u32 ppid;
  __u32 uid;         /* real uid of the thread first counted */
  __u32 flags;       /* DEDGE_PROC_* */
  __u32 reserved;
  char comm[DEDGE_COMM_LEN];      /* at first sight */
  char exit_comm[DEDGE_COMM_LEN]; /* at exit (after an exec it differs) */
};

/* Value of dedge_forks, keyed by child tgid: who forked it. */
struct dedge_fork {
  __u32 ppid;
  __u32 reserved;
};

/* dedge_stats[0]: things the program could not record. */
struct dedge_stats {
  __u64 procs_full;    /* a process could not get a dedge_procs entry (map full): its bytes are lost */
  __u64 storage_fail;  /* a TCP socket could not get its segment bookkeeping: its segments are lost */
};

#define DEDGE_PROCS_MAX 16384
#define DEDGE_FORKS_MAX 16384

#endif
