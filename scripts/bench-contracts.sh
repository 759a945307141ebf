#!/usr/bin/env bash
# Contract cost report (a benchmark, not a test): dry-run ref_time, proof_size and storage
# deposit of every registry/market/splitter message (with the market's use of the dispute
# contract: a challenge that opens a game, its settlement), next to the yardstick ERC-20 `transfer`,
# all measured on one fresh substrate-contracts-node in one run.
#
#   scripts/bench-contracts.sh            builds nothing; expects contracts/target/buffer-65536/ink/<c>/<c>.contract
#                                         (as `iollm devnet up` or the end-to-end tests build them)
#   IOLLM_HOME=…  RPC_PORT=…              tools directory, node port
#
# Each message is dry-run (`cargo contract call` without -x) in the state where it succeeds, then
# executed so the next message finds its state. Output: a table on stdout and
# target/bench/contracts.tsv. Goal (issue 3): each hot message (claim, submit_result, attest,
# pay_revenue, withdraw) at most 2x the ref_time of the yardstick's transfer.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IOLLM_HOME=${IOLLM_HOME:-$HOME/.local/share/iollm}
bin="$IOLLM_HOME/bin"
port=${RPC_PORT:-$((20000 + RANDOM % 20000))}
url="ws://127.0.0.1:$port"
built="$repo/contracts/target/buffer-65536/ink"
out="$repo/target/bench"
mkdir -p "$out"
tsv="$out/contracts.tsv"
work=$(mktemp -d)

for c in registry market splitter dispute yardstick; do
  [ -f "$built/$c/$c.contract" ] || {
    echo "missing $built/$c/$c.contract: build it with cargo-contract first" >&2
    exit 1
  }
done

"$bin/substrate-contracts-node" --dev --tmp --rpc-port "$port" --no-prometheus --no-telemetry \
  --no-mdns --listen-addr "/ip4/127.0.0.1/tcp/$((port + 1))" --finalize-delay-sec 1 \
  >"$work/node.log" 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 60); do
  curl -s -H 'Content-Type: application/json' -d '{"id":1,"jsonrpc":"2.0","method":"system_health"}' \
    "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 1
done

ALICE=5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY
BOB=5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty
CHARLIE=5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y
DAVE=5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy
EVE=5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw
FERDIE=5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL

cc() { "$bin/cargo-contract" contract "$@" --url "$url"; }

# deploy NAME ARGS… → prints the contract address
deploy() {
  local name=$1
  shift
  cc instantiate "$built/$name/$name.contract" --constructor new ${1:+--args "$@"} --suri //Alice \
    -x -y --output-json >"$work/$name.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["contract"])' "$work/$name.json"
}

printf 'contract\tmessage\tref_time\tproof_size\tstorage_deposit\n' >"$tsv"

# call CONTRACT_NAME ADDR SURI MESSAGE VALUE ARGS…: dry-run (recorded), then execute.
call() {
  local name=$1 addr=$2 suri=$3 msg=$4 value=$5
  shift 5
  local args=()
  [ $# -gt 0 ] && args=(--args "$@")
  cc call "$built/$name/$name.contract" --contract "$addr" --message "$msg" --suri "$suri" \
    --value "$value" "${args[@]}" --output-json >"$work/dry.json"
  python3 - "$work/dry.json" "$name" "$msg" >>"$tsv" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
# data = Ok(<message result>); a message returning Result must be Ok(Ok(..)) here.
outer = d.get("data", {}).get("Tuple", {})
inner = (outer.get("values") or [{}])[0].get("Tuple", {})
if d.get("reverted") or outer.get("ident") != "Ok" or inner.get("ident") == "Err":
    sys.exit(f"{sys.argv[2]}.{sys.argv[3]} would fail: {json.dumps(d.get('data'))}")
gas = d.get("gas_consumed", {})
dep = d.get("storage_deposit", {})
deposit = dep.get("Charge", 0) if isinstance(dep, dict) else dep
if isinstance(dep, dict) and "Refund" in dep:
    deposit = -int(dep["Refund"])
print(f'{sys.argv[2]}\t{sys.argv[3]}\t{gas.get("ref_time")}\t{gas.get("proof_size")}\t{deposit}')
EOF
  cc call "$built/$name/$name.contract" --contract "$addr" --message "$msg" --suri "$suri" \
    --value "$value" "${args[@]}" -x -y --output-json >"$work/exec.json"
}

yard=$(deploy yardstick 1000000000)
registry=$(deploy registry)
# Reference price 100 000 per unit, so a 50-unit job at 20 % discount forgoes 1 000 000 units:
# the smallest credit the splitter accepts (the credit path is measured, not its money fallback).
PARAMS='{ reference_price: 100000, collateral_bps: 20000, min_verifiers: 1, max_window: 50, max_job_blocks: 500, submit_blocks: 100, challenge_blocks: 5000, unbonding_blocks: 2 }'
market=$(deploy market "$FERDIE" "$PARAMS")
splitter=$(deploy splitter "$registry" "$market" "$FERDIE")
dispute=$(deploy dispute "$market")

call yardstick "$yard" //Alice transfer 0 "$BOB" 1000
call yardstick "$yard" //Alice transfer 0 "$BOB" 1000

CID=0x$(printf 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o' | xxd -p -c 256)
OUT=0x$(printf 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4' | xxd -p -c 256)
ROOT=0x$(printf '03%.0s' $(seq 32))
GPU='{ accelerator: 2, memory_gib: 80, throughput: 100 }'
NEED='{ accelerator: 1, memory_gib: 24, throughput: 10 }'
VERIFY='{ challenge_window: 1, verifiers: 1, collateral: 10000000, verifier_fee: 1000 }'

call market "$market" //Alice wire_splitter 0 "$splitter"
call market "$market" //Alice wire_dispute 0 "$dispute"
call registry "$registry" //Alice set_market 0 "$market"
RULE='{ designer_bps: 5000, compute_bps: 3000, upstream_bps: 1500, treasury_bps: 500 }'
call registry "$registry" //Bob register 0 0 "$CID" "[]" "$RULE"
call registry "$registry" //Bob register 0 0 "$CID" "[{ id: 1, relation: Finetune }]" "$RULE"
call registry "$registry" //Bob new_version 0 2 "$OUT"
call splitter "$splitter" //Bob set_rule 0 1 "$RULE"

call market "$market" //Charlie pledge 100000000 "$GPU" 100000 2000
call market "$market" //Dave pledge 100000000 "$GPU" 100000 0
call market "$market" //Eve pledge 100000000 "$GPU" 100000 0
call market "$market" //Charlie top_up 1000 
call market "$market" //Eve unpledge 0 1000

# A training job's game: a 1-layer step, one checkpoint of one step from H0, 2 blocks a move.
H0=0x$(printf '06%.0s' $(seq 32))
CONFIG='{ n_layer: 1, n_head: 1, n_embd: 8, n_ctx: 4, batch: 1, corpus_len: 100, optimizer: [1, 1, 1, 1, 1], warmup_steps: 0 }' # GameConfig::SMALLEST
GAME="Some({ config: $CONFIG, config_hash: $ROOT, corpus_root: $ROOT, every: 1, checkpoints: 1, h0: $H0, move_blocks: 2 })"
# The made-up trace [H0, $1] (iollm_repops::merkle over SHA-256): root, first path, last, last path.
trace() {
  python3 -c '
import hashlib, sys
h0, last = (bytes.fromhex(a[2:]) for a in sys.argv[1:3])
leaf = lambda v: hashlib.sha256(b"\0" + v).digest()
root = hashlib.sha256(b"\1" + leaf(h0) + leaf(last)).digest()
print(f"0x{root.hex()} [0x{leaf(last).hex()}] 0x{last.hex()} [0x{leaf(h0).hex()}]")
' "$H0" "$1"
}
# The made-up run's last state (iollm_types::market::FinalState): a header of the game's config
# after its one step, loss 0, and its root h_n; prints h_n and the submission's proof argument.
final_state() {
  python3 -c '
import hashlib, struct, sys
config_hash, h0 = (bytes.fromhex(a[2:]) for a in sys.argv[1:3])
sha = lambda b: hashlib.sha256(b).digest()
profile = b"repops-v4"
header = b"IOLLMCK1" + struct.pack("<I", len(profile)) + profile + config_hash \
  + struct.pack("<QQIIIQ", 1, 1, 0, 0, 0, 1)
tensors = bytes([8]) * 32
h_n = sha(b"\1" + sha(b"\0" + sha(header)) + sha(b"\0" + tensors))
sibling = sha(b"\0" + h0)
print(f"0x{h_n.hex()} Some({{ state: {{ header: 0x{header.hex()}, tensors_root: 0x{tensors.hex()} }}, path: [0x{sibling.hex()}] }})")
' "$ROOT" "$H0"
}
spec() {
  local game=None
  [ "$1" = Train ] && game=$GAME
  echo "{ kind: $1, spec_cid: $CID, artifact: 1, units: 50, need: $NEED, deadline: $2, verification: $VERIFY, bounty: $3, benchmark: None, executors: [], game: $game }"
}
block() {
  curl -s -H 'Content-Type: application/json' \
    -d '{"id":1,"jsonrpc":"2.0","method":"chain_getHeader"}' "http://127.0.0.1:$port" |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"]["number"],16))'
}
# Produces blocks until the chain is past block $1.
advance_past() {
  while [ "$(block)" -le "$1" ]; do
    call yardstick "$yard" //Alice transfer 0 "$BOB" 1 >/dev/null
  done
}
call market "$market" //Alice post_bounty 1000000 "$CID" 0 10 100 2 500
# Dave's spot check (VERIFICATION.md): commitment to his secret, the one-segment run's steps root
# and the checks root the executor commits (iollm_types::spotcheck over SHA-256).
DAVE_KEY=0x306721211d5404bd9da88e0204360a1a9ab8b87c66c1bc2fcdd37f3c2222cc20
SECRET=0x$(printf '11%.0s' $(seq 32))
STEPS=0x$(printf '08%.0s' $(seq 32))
read -r COMMIT CHECKS <<<"$(python3 -c '
import hashlib, sys
key, secret, steps = (bytes.fromhex(a[2:]) for a in sys.argv[1:4])
commit = hashlib.sha256(b"iollm-spotcheck-commit" + key + secret).digest()
leaf = hashlib.sha256(b"iollm-spotcheck-leaf" + steps).digest()
print(f"0x{commit.hex()} 0x{hashlib.sha256(bytes([0]) + leaf).digest().hex()}")
' "$DAVE_KEY" "$SECRET" "$STEPS")"
call market "$market" //Bob post_job 10000000 "$(spec Train 400 None)"
call market "$market" //Dave sign_up 0 1 "$COMMIT"
call market "$market" //Charlie claim 0 1
read -r H_N LAST <<<"$(final_state)"
read -r ROOT_X _ _ _ <<<"$(trace "$H_N")"
call market "$market" //Charlie submit_result 0 1 "{ output_cid: $OUT, score: 200, loss: 0, trace_root: $ROOT_X, checks_root: $CHECKS }" "$LAST"
call market "$market" //Dave attest 0 1 "$SECRET" "Some(($STEPS, []))"
call yardstick "$yard" //Alice transfer 0 "$BOB" 1000
call market "$market" //Bob finalize 0 1
call market "$market" //Bob withdraw 0
call registry "$registry" //Bob register_from_job 0 1 0 "$OUT" "[{ id: 1, relation: Finetune }]" "$RULE"

# A challenged job whose executor does not answer its game: settled on the timeout.
call market "$market" //Bob post_job 10000000 "$(spec Train 400 None)"
# Dave's second sign-up (the one kept): his ledger entry exists, so it is only updated.
call market "$market" //Dave sign_up 0 2 "$COMMIT"
call market "$market" //Charlie claim 0 2
call market "$market" //Charlie submit_result 0 2 "{ output_cid: $OUT, score: 1, loss: 0, trace_root: $ROOT_X, checks_root: $CHECKS }" "$LAST"
read -r root first last last_path <<<"$(trace 0x$(printf '02%.0s' $(seq 32)))"
call market "$market" //Eve challenge 0 2 "$root" "$first" "$last" "$last_path"
advance_past $(($(block) + 2))
call market "$market" //Bob settle_challenge 0 2 0

# An expired job.
call market "$market" //Bob post_job 10000000 "$(spec Train 60 None)"
advance_past 60
call market "$market" //Bob expire 0 3
# Each party frees its own records (settlement frees nothing); the last measured: Eve's
# settled challenge, with its game in the dispute contract.
call market "$market" //Bob release 0 3
call market "$market" //Eve release 0 2

call splitter "$splitter" //Bob pay_revenue 1000000 1
call splitter "$splitter" //Bob pay_revenue 1000000 1
call splitter "$splitter" //Charlie withdraw 0 "Some(1)"
call splitter "$splitter" //Bob withdraw 0 None
call registry "$registry" //Bob transfer 0 3 "$CHARLIE"
call registry "$registry" //Charlie deprecate 0 3
call splitter "$splitter" //Alice propose_change 0 "Code($ROOT)"
call market "$market" //Alice propose_change 0 "Code($ROOT)"

python3 - "$tsv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
# Keep the last measurement of each message (warm storage, as in steady use).
last = {}
for r in rows:
    last[(r["contract"], r["message"])] = r
base = int(last[("yardstick", "transfer")]["ref_time"])
hot = {"claim", "submit_result", "sign_up", "attest", "pay_revenue", "withdraw"}
print(f"{'contract':10} {'message':18} {'ref_time':>14} {'x transfer':>10} {'proof_size':>10} {'deposit':>10}")
for (c, m), r in last.items():
    rt = int(r["ref_time"])
    mark = " hot" if m in hot and c != "yardstick" else ""
    print(f"{c:10} {m:18} {rt:>14,} {rt / base:>10.2f} {int(r['proof_size']):>10,} {r['storage_deposit']:>10}{mark}")
EOF
