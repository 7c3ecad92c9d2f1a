from agentik_cli.cli.app import main

main()
