# tcptop NDJSON rows as OpenTelemetry log records: the row's time, and its
# fields as attributes named by the semantic conventions, or tcptop.* where
# there is no convention.
def otel_state:
  {"SYN_SENT": "syn_sent", "SYN_RECV": "syn_received", "ESTABLISHED": "established",
   "FIN_WAIT1": "fin_wait_1", "FIN_WAIT2": "fin_wait_2", "CLOSE_WAIT": "close_wait",
   "LAST_ACK": "last_ack", "CLOSING": "closing", "CLOSE": "closed"}[.];
def mapped: ["timestamp", "proto", "family", "local_addr", "local_port", "remote_addr",
  "remote_port", "pid", "comm", "uid", "state", "container_id"];
select(has("type") | not) # rows only: --stats records have a type
| {
  timestamp: .timestamp,
  attributes: (
    {
      "network.transport": .proto,
      "network.type": .family,
      "network.local.address": .local_addr,
      "network.local.port": .local_port,
      "network.peer.address": .remote_addr,
      "network.peer.port": .remote_port
    }
    + (if .state != "" then {"network.connection.state": (.state | otel_state)} else {} end)
    + (if .direction == "out" then {"client.address": .local_addr, "client.port": .local_port,
                                    "server.address": .remote_addr, "server.port": .remote_port}
       elif .direction == "in" then {"client.address": .remote_addr, "client.port": .remote_port,
                                     "server.address": .local_addr, "server.port": .local_port}
       else {} end)
    + (if .pid != 0 then {"process.pid": .pid, "process.executable.name": .comm, "process.user.id": .uid} else {} end)
    + (if .container_id != "" then {"container.id": .container_id} else {} end)
    + (to_entries | map(select(.key as $k | mapped | index($k) | not) | .key |= "tcptop." + .) | from_entries)
  )
}
