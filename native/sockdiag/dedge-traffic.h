/* Per-process traffic counters from the eBPF program native/ebpf/dedge_traffic.bpf.c (dedge-traffic.c). */
#ifndef DEDGE_SOCKDIAG_TRAFFIC_H
#define DEDGE_SOCKDIAG_TRAFFIC_H
#include <stddef.h>
#include <stdint.h>

enum traffic_mode { TRAFFIC_OFF = 0, TRAFFIC_EBPF = 1, TRAFFIC_SOCKDIAG = 2 };

#define TRAFFIC_REASON_LEN 56

struct traffic_status {
  enum traffic_mode mode;
  int error;                        /* errno of the eBPF failure, 0 in eBPF mode */
  char reason[TRAFFIC_REASON_LEN];  /* why eBPF is not in use, "" in eBPF mode */
};

/* Loads and attaches the program (needs CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN). Call before dropping
 * privileges. On failure everything loaded is released and the status says why. */
void traffic_start(struct traffic_status *st);

/* Mode forced by the command line: no load attempt. */
void traffic_disable(struct traffic_status *st, enum traffic_mode mode, const char *reason);

/* Reads every process's counters: calls emit() per process, deletes the exited ones it returned.
 * Returns 0 or a positive errno (then emit() may have been called for some). */
struct dedge_proc;
int traffic_read(void (*emit)(uint32_t tgid, const struct dedge_proc *p, void *arg), void *arg, uint64_t stats[2]);

#endif
