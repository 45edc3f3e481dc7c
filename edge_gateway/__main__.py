from edge_gateway.cli import main

main()
