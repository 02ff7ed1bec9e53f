# Runs inside the arm64 VM booted on Debian 12's kernel (6.1; test/arm64/vmDebian12.test.ts): the kernel
# predates the sock_send_length/sock_recv_length tracepoints (Linux 6.3), so the helper's eBPF counters
# cannot load. The binary must still start and collect through sock_diag, and say why eBPF is off.
D=/payload/defender-edge-aarch64
B=$D/defender-edge
trap '' PIPE

step version $B --version
step kernel uname -r
step traffic-probe sh -c "echo quit | $D/dedge-sockdiag --traffic"
if [ "$_rc" = 0 ]; then
  mkfifo /tmp/helper.in
  $D/dedge-sockdiag --traffic < /tmp/helper.in > /tmp/helper.out 2> /tmp/helper.err &
  HELPER=$!
  exec 4> /tmp/helper.in
  echo "procs 1" >&4
  sleep 1
  echo quit >&4
  exec 4>&-
  wait $HELPER
  frame traffic $? /tmp/helper.out /tmp/helper.err
fi
nc -l -p 7070 > /dev/null &
LISTENER=$!
step collect $B collect --once --json --interval 500
kill $LISTENER 2> /dev/null
echo "$LISTENER" > /tmp/listener.pid
emit collect-listener 0 /tmp/listener.pid
