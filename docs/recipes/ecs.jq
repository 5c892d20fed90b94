# tcptop NDJSON rows as Elastic Common Schema documents. source is the end
# that opened the connection (direction "out": this host; "in": the peer;
# unknown: this host), network.direction is from this host's point of view.
def ends:
  {ip: .local_addr, port: .local_port, bytes: .bytes_out, packets: .packets_out} as $local
  | {ip: .remote_addr, port: .remote_port, bytes: .bytes_in, packets: .packets_in} as $remote
  | if .direction == "in" then {source: $remote, destination: $local}
    else {source: $local, destination: $remote} end;
def mapped: ["timestamp", "proto", "family", "local_addr", "local_port", "remote_addr",
  "remote_port", "bytes_in", "bytes_out", "packets_in", "packets_out", "pid", "comm", "uid",
  "container_id", "direction", "community_id", "start", "duration_ms"];
select(has("type") | not) # rows only: --stats records have a type
| {
  "@timestamp": .timestamp,
  event: {
    kind: "event",
    category: ["network"],
    type: (["connection"] + (if .closed then ["end"] else [] end)),
    start: .start,
    duration: (.duration_ms * 1000000)
  },
  network: {
    transport: .proto,
    type: .family,
    direction: ({"out": "egress", "in": "ingress"}[.direction] // "unknown"),
    community_id: .community_id,
    bytes: (.bytes_in + .bytes_out),
    packets: (.packets_in + .packets_out)
  }
}
+ ends
+ (if .pid != 0 then {process: {pid: .pid, name: .comm}, user: {id: (.uid | tostring)}} else {} end)
+ (if .container_id != "" then {container: {id: .container_id}} else {} end)
+ {tcptop: (to_entries | map(select(.key as $k | mapped | index($k) | not)) | from_entries)}
