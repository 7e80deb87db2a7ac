{
  "targets": [
    {
      "target_name": "memimage_ptrace",
      "sources": ["native/ptrace.c"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
