from cnnviz.cli import main

raise SystemExit(main())
