from agentik_cli.entry import main

main()
