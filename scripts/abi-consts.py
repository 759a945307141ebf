#!/usr/bin/env python3
"""Prints ink! selectors and event signature topics as Rust constants for crates/types.

ink! 5: a message selector is the first 4 bytes of blake2b-256 of its name; an event's signature
topic is blake2b-256 of `Name(Type,…)` with the field types as written in the contract. The
contracts' tests check every constant against ink!'s own computation.

usage: scripts/abi-consts.py sel NAME… | topic 'Event(T1,T2)'…
"""
import hashlib
import re
import sys


def b2(s: str) -> bytes:
    return hashlib.blake2b(s.encode(), digest_size=32).digest()


def arr(bs: bytes) -> str:
    return "[" + ", ".join(f"0x{b:02x}" for b in bs) + "]"


def const(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


mode, items = sys.argv[1], sys.argv[2:]
for item in items:
    if mode == "sel":
        print(f"    /// `{item}`.\n    pub const {item.upper()}: [u8; 4] = {arr(b2(item)[:4])};")
    else:
        name = item.split("(")[0]
        print(f"    /// Signature topic of `{name}`.\n    pub const {const(name)}_TOPIC: [u8; 32] = {arr(b2(item))};")
