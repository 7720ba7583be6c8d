from anomalygpt_engine.cli import main

raise SystemExit(main())
