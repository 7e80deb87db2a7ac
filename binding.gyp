{
  "variables": {
    "libsnappy_a": "<!(f=$(cc -print-file-name=libsnappy.a 2>/dev/null); if [ -f \"$f\" ] && [ -f /usr/include/snappy-c.h ]; then echo \"$f\"; else echo none; fi)"
  },
  "targets": [
    {
      "target_name": "memimage_snappy",
      "sources": [
        "native/snappy.c"
      ],
      "libraries": [
        "<(libsnappy_a)",
        "-lstdc++",
        "-Wl,--exclude-libs,ALL"
      ],
      "conditions": [
        [
          "OS!='linux' or libsnappy_a=='none'",
          {
            "type": "none",
            "sources!": [
              "native/snappy.c"
            ],
            "libraries!": [
              "<(libsnappy_a)",
              "-lstdc++",
              "-Wl,--exclude-libs,ALL"
            ]
          }
        ]
      ]
    },
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
