"""Model providers. Each SDK is imported only by its own module, only when a call is made; this
package itself stays light so that the CLI can import it at start-up."""
