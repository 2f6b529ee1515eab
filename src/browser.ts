// The browser build of the library entry: install events are a Node concern.
export function reportInstall(_from: string | URL): void {
  // Nothing to report from a browser.
}
