import os, sys
def pat(n):
    b = bytes(i % 251 for i in range(251))
    reps = n // 251 + 1
    return (b * reps)[:n]
os.makedirs("/tmp/kv/data", exist_ok=True)
sizes = {"c174": 174*262144, "c174p1": 174*262144+1, "c175": 175*262144, "c1": 262144, "c1p1": 262145}
for k, n in sizes.items():
    with open(f"/tmp/kv/data/{k}", "wb") as f: f.write(pat(n))
d = "/tmp/kv/data/dir1"
os.makedirs(d + "/sub", exist_ok=True); os.makedirs(d + "/emptydir", exist_ok=True)
open(d + "/hello.txt", "wb").write(b"hello world\n")
open(d + "/sub/p1m.bin", "wb").write(pat(1048576))
open(d + "/config.json", "wb").write(b'{"a":1}')
os.makedirs("/tmp/kv/data/emptyd", exist_ok=True)
