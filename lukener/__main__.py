from lukener.cli.app import main

main()
