/*
 * dedge-sockdiag: the collector's socket-diagnostics helper, there for collector performance (docs/sockdiag.md).
 *
 * Node has no netlink, so before this helper the collector read /proc/net/{tcp,tcp6,udp,udp6} as text
 * and spawned `ss` every sample for per-socket tcp_info. This program stays alive beside the agent and,
 * for each request line on stdin, does NETLINK_SOCK_DIAG (inet_diag) dumps of TCP and UDP over IPv4 and
 * IPv6 — TCP with INET_DIAG_INFO (struct tcp_info) — and writes fixed-size binary records on stdout,
 * then one end record. It exits when stdin ends (the agent went away) or on "quit".
 *
 * Command line: no argument = sockets only (as before). `--traffic` also loads the per-process traffic
 * counters (eBPF, native/ebpf/dedge_traffic.bpf.c, through dedge-traffic.c) before dropping privileges;
 * `--traffic --no-ebpf` reports sockdiag mode without trying (tests; a kernel where loading misbehaves).
 *
 * Requests (one line each, at most 127 bytes):
 *   dump <seq> [<tcp-states-hex> [<udp-states-hex> [<flags-hex>]]]
 *        seq: decimal, echoed in the end record; states: inet_diag idiag_states bit masks (bit N =
 *        kernel state N), default all; flags: 1 = dump TCP per family (see below), default 0
 *   procs <seq>
 *        per-process traffic counters: one process record per thread group counted since the helper
 *        started, then one mode record (below). An exited process is delivered once, then forgotten.
 *   destroyed <seq>
 *        sockdiag mode only (--traffic where eBPF is unavailable): the TCP sockets the kernel destroyed
 *        since the last such request, with their final tcp_info (sock_diag multicast groups
 *        SKNLGRP_INET_TCP_DESTROY and SKNLGRP_INET6_TCP_DESTROY, net/core/sock_diag.c: the kernel sends
 *        one inet_diag_msg + INET_DIAG_INFO per TCP socket as it frees it). Answered like `dump`: socket
 *        records, then an end record. In those records inode and uid are 0 (no file holds a socket being
 *        freed, and the kernel does not fill the uid): the caller attributes them by their addresses and
 *        ports to the socket it saw in an earlier dump. End record: status[0] = errno of the subscription
 *        (0 = subscribed; ENOPROTOOPT when not in sockdiag mode), status[1] = ENOBUFS if notifications
 *        were lost since the last request (the receive buffer overflowed), statuses 2, 3 = 0.
 *   quit
 *
 * Cost: a TCP dump of any state but LISTEN walks the kernel's whole established-connections hash table,
 * empty buckets included — 262,144 buckets on a 24 GiB machine, ~1 ms per walk; far fewer on a small
 * gateway (the table is sized from RAM). A v2 request (inet_diag_req_v2) names one family, so IPv4 and
 * IPv6 would cost two walks; the older TCPDIAG_GETSOCK request (struct inet_diag_req) dumps with family
 * AF_UNSPEC, i.e. both families in ONE walk (net/ipv4/inet_diag.c, inet_diag_dump_compat). So TCP is
 * dumped that way, and per family with v2 requests only if the kernel refuses it (or flag 1 asks).
 * A line that is not a valid request is answered by an end record with every status EINVAL.
 *
 * Response: RECORD_SIZE-byte records, little-endian integers, addresses in network byte order.
 *   socket record                              end record
 *   0  u8  'S'                                 0  u8  'E'
 *   1  u8  family 4 | 6                        1  u8  protocol version (1)
 *   2  u8  protocol 6 (TCP) | 17 (UDP)         2  u8  bit i: dump i was interrupted (NLM_F_DUMP_INTR)
 *   3  u8  kernel state (TCP_LISTEN = 10 …)    3  u8  1 if TCP came from one AF_UNSPEC dump
 *   4  u8  flags: 1 bytes_acked/received,      4  u32 socket records in this response
 *              2 segs_out/in, 4 data_segs      8  i32 errno of the TCP/IPv4 dump (0 = ok)
 *   5  u8  0                                   12 i32 errno of the TCP/IPv6 dump
 *   6  u16 local port                          16 i32 errno of the UDP/IPv4 dump
 *   8  u16 remote port                         20 i32 errno of the UDP/IPv6 dump
 *   10 u16 0                                   24 u32 seq of the request
 *   12 u32 inode (0: no file holds it)         28..   0
 *   16 u32 uid
 *   20 16B local address (IPv4: first 4 bytes)
 *   36 16B remote address
 *   52 u64 tcpi_bytes_acked    60 u64 tcpi_bytes_received
 *   68 u32 tcpi_segs_out       72 u32 tcpi_segs_in
 *   76 u32 tcpi_data_segs_out  80 u32 tcpi_data_segs_in     84 u32 0
 * A counter whose flag bit is clear is 0 (UDP, or a kernel whose tcp_info is shorter). With one AF_UNSPEC
 * TCP dump, its status is reported for both TCP parts.
 *
 * Response to `procs`: process records, then one mode record that ends the response.
 *   process record                               mode record
 *   0  u8  'P'                                   0  u8  'M'
 *   1  u8  flags: 1 exited (whole thread group), 1  u8  protocol version (1)
 *              2 ppid recorded at fork           2  u8  mode: 0 off (no --traffic), 1 ebpf, 2 sockdiag
 *   2  u16 0                                     3  u8  0
 *   4  u32 tgid                                  4  u32 process records in this response
 *   8  u32 parent tgid                           8  i32 errno of the eBPF failure (0 in ebpf mode), or of
 *   12 u32 uid (real, at first sight)                   this read (mode ebpf, records may be missing)
 *   16 u64 bytes out  24 u64 bytes in            12 u32 seq of the request
 *   32 u64 packets out 40 u64 packets in         16 u64 processes lost: counter map full (cumulative)
 *   48 16B comm at first sight (NUL-padded)      24 u64 TCP sockets whose segments were lost (cumulative)
 *   64 16B comm at exit (zeros while alive)      32 56B why not ebpf (text, NUL-padded; "" in ebpf mode)
 *   80 u64 first seen, CLOCK_MONOTONIC ns
 * Counters are cumulative since the process was first counted (per-process deltas are the reader's job;
 * a tgid whose first-seen time changed is a new process that reuses the number). What bytes and packets
 * mean per protocol: the top of native/ebpf/dedge_traffic.bpf.c. In sockdiag mode and off, no process
 * records: the caller attributes sockets itself from `dump`.
 * tgid and parent tgid are numbers in the helper's own pid namespace (what its /proc shows; the host's
 * in the initial namespace). tgid 0 is the aggregate of every process NOT visible from that namespace
 * (an agent in a container sees only its own): one record, no comm, never exited, parent 0.
 *
 * Facts used: sock_diag(7) (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2, inet_diag_msg, INET_DIAG_INFO);
 * netlink(7) (NLM_F_DUMP, NLMSG_DONE / NLMSG_ERROR, NLM_F_DUMP_INTR); struct tcp_info from <linux/tcp.h>.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/tcp.h>
#include "dedge-traffic.h"
#include "dedge_traffic.h"

#define RECORD_SIZE 88
#define PROTOCOL_VERSION 1
#define FLAG_BYTES 1u
#define FLAG_SEGS 2u
#define FLAG_DATA_SEGS 4u

/* Output is batched: one write(2) per OUT_CAPACITY bytes instead of one per socket. */
#define OUT_CAPACITY (RECORD_SIZE * 1024)
static unsigned char out_buf[OUT_CAPACITY];
static size_t out_len;

/* Netlink dumps come in skbs of up to ~32 KiB; a larger buffer lets the kernel fill more per recv. */
static unsigned char recv_buf[64 * 1024] __attribute__((aligned(8)));

static void write_all(const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(3); /* the reader is gone: nothing left to do */
    }
    p += w;
    n -= (size_t)w;
  }
}

static void flush_out(void) {
  write_all(out_buf, out_len);
  out_len = 0;
}

static unsigned char *next_record(void) {
  if (out_len + RECORD_SIZE > OUT_CAPACITY) flush_out();
  unsigned char *r = out_buf + out_len;
  memset(r, 0, RECORD_SIZE);
  out_len += RECORD_SIZE;
  return r;
}

static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A tcp_info field is present when the kernel's attribute is long enough to hold it. */
#define HAS_FIELD(len, field) ((size_t)(len) >= offsetof(struct tcp_info, field) + sizeof(((struct tcp_info *)0)->field))

static void emit_socket(const struct nlmsghdr *nlh, uint8_t protocol) {
  const struct inet_diag_msg *m = NLMSG_DATA(nlh);
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) return;
  unsigned char *r = next_record();
  r[0] = 'S';
  r[1] = m->idiag_family == AF_INET6 ? 6 : 4;
  r[2] = protocol;
  r[3] = m->idiag_state;
  put16(r + 6, ntohs(m->id.idiag_sport));
  put16(r + 8, ntohs(m->id.idiag_dport));
  put32(r + 12, m->idiag_inode);
  put32(r + 16, m->idiag_uid);
  memcpy(r + 20, m->id.idiag_src, 16);
  memcpy(r + 36, m->id.idiag_dst, 16);

  int attr_len = (int)(nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
  for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
    if ((a->rta_type & NLA_TYPE_MASK) != INET_DIAG_INFO) continue;
    struct tcp_info ti;
    size_t len = RTA_PAYLOAD(a);
    memset(&ti, 0, sizeof ti);
    memcpy(&ti, RTA_DATA(a), len < sizeof ti ? len : sizeof ti);
    uint8_t flags = 0;
    if (HAS_FIELD(len, tcpi_bytes_received)) {
      flags |= FLAG_BYTES;
      put64(r + 52, ti.tcpi_bytes_acked);
      put64(r + 60, ti.tcpi_bytes_received);
    }
    if (HAS_FIELD(len, tcpi_segs_in)) {
      flags |= FLAG_SEGS;
      put32(r + 68, ti.tcpi_segs_out);
      put32(r + 72, ti.tcpi_segs_in);
    }
    if (HAS_FIELD(len, tcpi_data_segs_out)) {
      flags |= FLAG_DATA_SEGS;
      put32(r + 76, ti.tcpi_data_segs_out);
      put32(r + 80, ti.tcpi_data_segs_in);
    }
    r[4] = flags;
  }
}

/*
 * Sends one dump request and emits its sockets: returns 0 or a positive errno. Messages carrying another
 * sequence number (left over from a dump a failed recv abandoned) are skipped. The answer's messages
 * carry the request's type (SOCK_DIAG_BY_FAMILY, or TCPDIAG_GETSOCK for the compat request).
 */
static int run_dump(int fd, uint16_t type, const void *payload, size_t payload_len, uint8_t protocol, uint32_t seq, uint32_t *count,
                    int *interrupted) {
  unsigned char msg[NLMSG_SPACE(sizeof(struct inet_diag_req_v2) > sizeof(struct inet_diag_req) ? sizeof(struct inet_diag_req_v2)
                                                                                                  : sizeof(struct inet_diag_req))];
  memset(msg, 0, sizeof msg);
  struct nlmsghdr *nlh = (struct nlmsghdr *)msg;
  nlh->nlmsg_len = NLMSG_LENGTH(payload_len);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  memcpy(NLMSG_DATA(nlh), payload, payload_len);

  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd, msg, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) break;
    if (errno != EINTR) return errno;
  }

  for (;;) {
    ssize_t n = recv(fd, recv_buf, sizeof recv_buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EPIPE;
    int left = (int)n;
    for (const struct nlmsghdr *h = (const struct nlmsghdr *)recv_buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) *interrupted = 1;
      if (h->nlmsg_type == NLMSG_DONE) {
        /* The DONE payload holds the dump's final status (negative errno) on kernels that set it. */
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int status;
          memcpy(&status, NLMSG_DATA(h), sizeof status);
          if (status < 0) return -status;
        }
        return 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return EPROTO;
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return e->error < 0 ? -e->error : 0;
      }
      if (h->nlmsg_type == type) {
        emit_socket(h, protocol);
        (*count)++;
      }
    }
  }
}

/* sock_diag(7) request for one family and protocol. */
static int dump_v2(int fd, uint8_t family, uint8_t protocol, uint32_t states, uint32_t seq, uint32_t *count, int *interrupted) {
  struct inet_diag_req_v2 req;
  memset(&req, 0, sizeof req);
  req.sdiag_family = family;
  req.sdiag_protocol = protocol;
  req.idiag_states = states;
  if (protocol == IPPROTO_TCP) req.idiag_ext = 1u << (INET_DIAG_INFO - 1);
  return run_dump(fd, SOCK_DIAG_BY_FAMILY, &req, sizeof req, protocol, seq, count, interrupted);
}

/* TCP over both families in one hash-table walk (see the top of this file). */
static int dump_tcp_any_family(int fd, uint32_t states, uint32_t seq, uint32_t *count, int *interrupted) {
  struct inet_diag_req req;
  memset(&req, 0, sizeof req);
  req.idiag_family = AF_INET; /* ignored by the kernel for this request: it dumps AF_UNSPEC */
  req.idiag_ext = 1u << (INET_DIAG_INFO - 1);
  req.idiag_states = states;
  return run_dump(fd, TCPDIAG_GETSOCK, &req, sizeof req, IPPROTO_TCP, seq, count, interrupted);
}

static void emit_end(uint32_t seq, uint32_t count, const int status[4], unsigned interrupted, int one_tcp_dump) {
  unsigned char *r = next_record();
  r[0] = 'E';
  r[1] = PROTOCOL_VERSION;
  r[2] = (unsigned char)interrupted;
  r[3] = (unsigned char)one_tcp_dump;
  put32(r + 4, count);
  for (int i = 0; i < 4; i++) put32(r + 8 + 4 * i, (uint32_t)status[i]);
  put32(r + 24, seq);
  flush_out();
}

static struct traffic_status traffic;

static void emit_proc(uint32_t tgid, const struct dedge_proc *p, void *arg) {
  uint32_t *count = arg;
  unsigned char *r = next_record();
  r[0] = 'P';
  r[1] = (unsigned char)(((p->flags & DEDGE_PROC_EXITED) ? 1u : 0u) | ((p->flags & DEDGE_PROC_PPID_FORK) ? 2u : 0u));
  put32(r + 4, tgid);
  put32(r + 8, p->ppid);
  put32(r + 12, p->uid);
  put64(r + 16, p->bytes_out);
  put64(r + 24, p->bytes_in);
  put64(r + 32, p->packets_out);
  put64(r + 40, p->packets_in);
  memcpy(r + 48, p->comm, 16);
  if (p->flags & DEDGE_PROC_EXITED) memcpy(r + 64, p->exit_comm, 16);
  put64(r + 80, p->first_ns);
  (*count)++;
}

static void answer_procs(uint32_t seq) {
  uint32_t count = 0;
  uint64_t stats[2] = {0, 0};
  int err = traffic.error;
  if (traffic.mode == TRAFFIC_EBPF) err = traffic_read(emit_proc, &count, stats);
  unsigned char *r = next_record();
  r[0] = 'M';
  r[1] = PROTOCOL_VERSION;
  r[2] = (unsigned char)traffic.mode;
  put32(r + 4, count);
  put32(r + 8, (uint32_t)err);
  put32(r + 12, seq);
  put64(r + 16, stats[0]);
  put64(r + 24, stats[1]);
  memcpy(r + 32, traffic.reason, TRAFFIC_REASON_LEN);
  flush_out();
}

/*
 * Destroyed-socket notifications (sockdiag mode). Subscribed before privileges are dropped so the receive
 * buffer can be raised past net.core.rmem_max (SO_RCVBUFFORCE needs CAP_NET_ADMIN): at ~330 bytes per
 * notification, 4 MiB hold ~12,000 destroyed sockets between two requests.
 */
static int destroy_fd = -1;
static int destroy_error = ENOPROTOOPT;

static void subscribe_destroyed(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    destroy_error = errno;
    return;
  }
  int size = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_nl a;
  memset(&a, 0, sizeof a);
  a.nl_family = AF_NETLINK;
  a.nl_groups = (1u << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1u << (SKNLGRP_INET6_TCP_DESTROY - 1));
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    destroy_error = errno;
    close(fd);
    return;
  }
  destroy_fd = fd;
  destroy_error = 0;
}

static void answer_destroyed(uint32_t seq) {
  uint32_t count = 0;
  int status[4] = {destroy_error, 0, 0, 0};
  while (destroy_fd >= 0) {
    ssize_t n = recv(destroy_fd, recv_buf, sizeof recv_buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        status[1] = ENOBUFS; /* some were dropped; the socket goes on receiving */
        continue;
      }
      break; /* EAGAIN: all read */
    }
    int left = (int)n;
    for (const struct nlmsghdr *h = (const struct nlmsghdr *)recv_buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      emit_socket(h, IPPROTO_TCP);
      count++;
    }
  }
  emit_end(seq, count, status, status[1] != 0 ? 1u : 0u, 0);
}

/* Strict parse of an unsigned number: all of s, in base, within max. */
static int parse_u32(const char *s, int base, uint32_t *out) {
  if (*s == '\0' || *s == '-' || *s == '+') return 0;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, base);
  if (errno != 0 || *end != '\0' || v > 0xffffffffUL) return 0;
  *out = (uint32_t)v;
  return 1;
}

/*
 * Reading the socket tables needs no privilege (sock_diag dumps are open to every user; only extras such
 * as the socket mark are limited to CAP_NET_ADMIN, and we ask for none). The agent runs as root
 * (recipe.yaml), so give root up before the netlink socket is opened — the socket keeps its opener's
 * credentials — and never regain it. Where that is not allowed (a user namespace without setgroups), carry
 * on as we are: the helper only reads.
 */
#define UNPRIVILEGED_ID 65534 /* nobody / nogroup */
static void drop_privileges(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (geteuid() != 0 && getuid() != 0) return;
  if (setgroups(0, NULL) != 0 || setgid(UNPRIVILEGED_ID) != 0 || setuid(UNPRIVILEGED_ID) != 0) {
    static const char msg[] = "dedge-sockdiag: cannot drop root privileges; continuing\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
  }
}

int main(int argc, char **argv) {
  /* A dump of 2,000 sockets is ~180 KB: a 1 MiB pipe (the unprivileged maximum) takes it in a few writes
   * instead of blocking every 64 KiB until the agent reads. Not a pipe, or refused: the default is fine. */
  (void)fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  int want_traffic = 0, no_ebpf = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--traffic") == 0) want_traffic = 1;
    else if (strcmp(argv[i], "--no-ebpf") == 0) no_ebpf = 1;
    else {
      static const char msg[] = "usage: dedge-sockdiag [--traffic [--no-ebpf]]\n";
      ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)ignored;
      return 2;
    }
  }
  /*
   * Loading and attaching BPF programs needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), so it happens
   * first, as root; then privileges go exactly as without --traffic. Keeping the map and link file
   * descriptors across the drop is safe: they grant only what the helper does anyway — reading and
   * deleting entries of its own maps (map operations on an open fd are checked against the fd's mode,
   * not the caller's capabilities) and, by closing them, detaching its own programs. They cannot load a
   * program, attach anything new, or reach another BPF object (that needs CAP_BPF, gone for good under
   * no_new_privs). The programs count; they never change packets or processes.
   */
  if (!want_traffic) traffic_disable(&traffic, TRAFFIC_OFF, "not requested (--traffic)");
  else if (no_ebpf) traffic_disable(&traffic, TRAFFIC_SOCKDIAG, "disabled by --no-ebpf");
  else traffic_start(&traffic);
  if (traffic.mode == TRAFFIC_SOCKDIAG) subscribe_destroyed();
  drop_privileges();
  /* Opened lazily so a request can report the failure (e.g. EPROTONOSUPPORT) instead of exiting. */
  int fd = -1;
  int open_error = 0;
  char line[128];

  while (fgets(line, sizeof line, stdin) != NULL) {
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      /* Too long: discard the rest of the line, answer as invalid. */
      int c;
      while ((c = getchar()) != EOF && c != '\n') {
      }
      line[0] = '\0';
    }
    line[strcspn(line, "\r\n")] = '\0';

    char *words[6];
    int nwords = 0;
    for (char *tok = strtok(line, " \t"); tok != NULL && nwords < 6; tok = strtok(NULL, " \t")) words[nwords++] = tok;

    if (nwords == 1 && strcmp(words[0], "quit") == 0) break;
    uint32_t procs_seq;
    if (nwords == 2 && strcmp(words[0], "procs") == 0 && parse_u32(words[1], 10, &procs_seq)) {
      answer_procs(procs_seq);
      continue;
    }
    if (nwords == 2 && strcmp(words[0], "destroyed") == 0 && parse_u32(words[1], 10, &procs_seq)) {
      answer_destroyed(procs_seq);
      continue;
    }

    uint32_t seq = 0, tcp_states = 0xffffffffu, udp_states = 0xffffffffu, flags = 0;
    int valid = nwords >= 2 && nwords <= 5 && strcmp(words[0], "dump") == 0 && parse_u32(words[1], 10, &seq) &&
                (nwords < 3 || parse_u32(words[2], 16, &tcp_states)) && (nwords < 4 || parse_u32(words[3], 16, &udp_states)) &&
                (nwords < 5 || (parse_u32(words[4], 16, &flags) && flags <= 1));
    int status[4] = {EINVAL, EINVAL, EINVAL, EINVAL};
    uint32_t count = 0;
    unsigned interrupted = 0;
    int one_tcp_dump = 0;
    if (valid) {
      if (fd < 0 && open_error == 0) {
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0) open_error = errno;
      }
      static const struct {
        uint8_t family, protocol;
      } parts[4] = {{AF_INET, IPPROTO_TCP}, {AF_INET6, IPPROTO_TCP}, {AF_INET, IPPROTO_UDP}, {AF_INET6, IPPROTO_UDP}};
      /* A distinct netlink sequence number per dump, so leftovers of an earlier dump are recognised. */
      uint32_t nlseq = seq * 8u;
      int first = 0;
      if (fd >= 0 && tcp_states != 0 && !(flags & 1u)) {
        int intr = 0;
        uint32_t before = count;
        int st = dump_tcp_any_family(fd, tcp_states, ++nlseq, &count, &intr);
        /* Refused before any socket (a kernel without the compat request): per family instead. */
        if (st == 0 || count != before) {
          status[0] = status[1] = st;
          if (intr) interrupted |= 3u;
          one_tcp_dump = 1;
          first = 2;
        }
      }
      for (int i = first; i < 4; i++) {
        if (fd < 0) {
          status[i] = open_error;
          continue;
        }
        int intr = 0;
        uint32_t states = parts[i].protocol == IPPROTO_TCP ? tcp_states : udp_states;
        status[i] = states == 0 ? 0 : dump_v2(fd, parts[i].family, parts[i].protocol, states, ++nlseq, &count, &intr);
        if (intr) interrupted |= 1u << i;
      }
    }
    emit_end(seq, count, status, interrupted, one_tcp_dump);
  }
  return 0;
}
