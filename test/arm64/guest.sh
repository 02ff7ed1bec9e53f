# Runs inside the arm64 VM (test/arm64/vm.test.ts; busybox ash, the helpers `step`, `emit` and `wait_for`
# come from test/support/arm64Vm.ts). The release zip's files are in $D, as Greengrass unpacks them.
# Every resource is named dedge*; the VM is thrown away afterwards.
D=/payload/defender-edge-aarch64
B=$D/defender-edge
IP=/bin/ip # iproute2's, not busybox's applet (busybox ash runs its own applets first)
trap '' PIPE

wait_log() { # seconds pid file text: until the file has the text; gives up early when the process is gone
  _n=$1
  while [ "$_n" -gt 0 ]; do
    grep -q "$4" "$3" && return 0
    kill -0 "$2" 2> /dev/null || return 1
    sleep 1
    _n=$((_n - 1))
  done
  return 1
}

# 1. the binary starts on a real arm64 kernel
step kernel uname -r
step version $B --version

# 2. one collector sample: the sock_diag helper beside the binary must serve it (a listener to attribute)
nc -l -p 7070 > /dev/null &
LISTENER=$!
echo '{"logLevel":"debug"}' > /tmp/debug.json
step collect $B collect --once --json --interval 500 --config /tmp/debug.json
kill $LISTENER 2> /dev/null
echo "$LISTENER" > /tmp/listener.pid
emit collect-listener 0 /tmp/listener.pid

# 3. per-process traffic in the kernel (eBPF), when the helper has it: two `procs` answers around 4 KiB
# sent over loopback by nc; the host decodes them and checks the mode first.
step traffic-probe sh -c "echo quit | $D/dedge-sockdiag --traffic"
if [ "$_rc" = 0 ]; then
  mkfifo /tmp/helper.in
  $D/dedge-sockdiag --traffic < /tmp/helper.in > /tmp/helper.out 2> /tmp/helper.err &
  HELPER=$!
  exec 4> /tmp/helper.in
  echo "procs 1" >&4
  # the listener's stdin stays open: busybox nc closes the connection when its stdin ends
  sleep 30 | nc -l -p 7071 > /dev/null &
  sleep 1
  head -c 4096 /dev/zero | timeout 10 nc 127.0.0.1 7071
  sleep 1
  echo "procs 2" >&4
  sleep 2
  echo quit >&4
  exec 4>&-
  wait $HELPER
  frame traffic $? /tmp/helper.out /tmp/helper.err
fi

# 4. an nftables address block in a network namespace: a gateway namespace running the agent (against the
# emulator over its Unix socket) and a device namespace behind a veth pair. The device's traffic, counted by
# the agent's nft table, crosses the profile's bytesOut threshold; the agent blocks the device's address.
GW=dedgevmgw
DEV=dedgevmdev
$IP netns add $GW
$IP netns add $DEV
$IP link add dedgevm0 netns $GW type veth peer name dedgevm1 netns $DEV
$IP -n $GW addr add 10.99.0.1/24 dev dedgevm0
$IP -n $DEV addr add 10.99.0.2/24 dev dedgevm1
for ns in $GW $DEV; do $IP -n $ns link set lo up; done
$IP -n $GW link set dedgevm0 up
$IP -n $DEV link set dedgevm1 up
cat > /tmp/gw-config.json << 'EOF'
{
  "heartbeat": { "enabled": false },
  "downstream": { "devices": [{ "thingName": "dedge-vm-device", "addresses": ["10.99.0.2"] }] },
  "behaviors": [
    {
      "name": "bytesOut",
      "metric": "aws:all-bytes-out",
      "criteria": { "comparisonOperator": "less-than", "value": { "count": 4000 }, "durationSeconds": 300 },
      "edge": { "scope": { "devices": true }, "action": { "type": "address-block", "ttlSeconds": 600 } }
    }
  ],
  "enforcement": { "mode": "enforce" }
}
EOF
mkfifo /tmp/emu.in
$B emulator --socket /tmp/ipc.sock --config /tmp/gw-config.json --thing DedgeVmGateway --token DEDGEVMTOKEN0001 \
  --record /tmp/cloud.jsonl --log-level warn < /tmp/emu.in > /tmp/emu.out 2> /tmp/emu.err &
EMULATOR=$!
exec 3> /tmp/emu.in
wait_log 180 $EMULATOR /tmp/emu.out '"ready":true'
AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=/tmp/ipc.sock SVCUID=DEDGEVMTOKEN0001 AWS_IOT_THING_NAME=DedgeVmGateway \
  $IP netns exec $GW $B run --state-dir /tmp/gw-state > /tmp/agent.out 2>&1 &
AGENT=$!
wait_log 180 $AGENT /tmp/agent.out '"msg":"agent running"'
AGENT_STARTED=$(now_ms)
step reach-before $IP netns exec $DEV ping -c 2 -W 10 10.99.0.1
step device-traffic $IP netns exec $DEV ping -c 8 -i 0.3 -s 1200 -W 10 10.99.0.1
blocked() { $IP netns exec $GW nft list set inet defender_edge block4 2> /dev/null | grep -q 10.99.0.2 || ! kill -0 $AGENT 2> /dev/null; }
wait_for 120 blocked
step block-set $IP netns exec $GW nft -j list set inet defender_edge block4
step reach-after $IP netns exec $DEV ping -c 2 -W 3 10.99.0.1
# the agent's and its helpers' memory on arm64, a minute after the agent started (/proc/PID/status, proc(5))
memory() {
  # the agent and its children (field 4 of /proc/PID/stat is the parent; comm, field 2, has no spaces here)
  for p in $AGENT $(awk -v a=$AGENT '$4 == a { print $1 }' /proc/[0-9]*/stat 2> /dev/null); do
    echo "$p $(cat /proc/$p/comm) $(grep -E '^(VmRSS|RssAnon|RssFile|VmHWM):' /proc/$p/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  done
}
while [ $(( $(now_ms) - AGENT_STARTED )) -lt 60000 ]; do sleep 1; done
step agent-memory memory
kill -TERM $AGENT
wait $AGENT
echo "$?" > /tmp/agent.rc
emit agent-log "$(cat /tmp/agent.rc)" /tmp/agent.out
step audit cat /tmp/gw-state/enforcement/audit.jsonl
step block-after-stop $IP netns exec $GW nft -j list set inet defender_edge block4
exec 3>&-
kill $EMULATOR 2> /dev/null
emit emulator-log 0 /tmp/emu.err
$IP netns del $DEV
$IP netns del $GW

# 5. the rogue-agent scenario end to end: emulator, agent, rogue, innocent neighbour and device, all in the VM
step demo $B demo --json --timeout-seconds 300
