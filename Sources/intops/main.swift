import IntopsCLI
