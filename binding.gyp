{
  "targets": [
    {
      "target_name": "memimage_ptrace",
      "sources": [
        "native/ptrace.c"
      ],
      "conditions": [
        [
          "OS!='linux'",
          {
            "type": "none"
          }
        ]
      ]
    },
    {
      "target_name": "memimage_sha256",
      "sources": [
        "native/sha256.c"
      ],
      "conditions": [
        [
          "OS!='linux'",
          {
            "type": "none"
          }
        ]
      ]
    },
    {
      "target_name": "memimage_pipe",
      "sources": [
        "native/pipe.c"
      ],
      "conditions": [
        [
          "OS!='linux'",
          {
            "type": "none"
          }
        ]
      ]
    }
  ]
}
