from afterword.cli import main

main(prog_name="afterword")
