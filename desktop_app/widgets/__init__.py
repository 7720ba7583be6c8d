"""Station widgets. They render what they are given and emit what the user asked for; no engine calls."""
