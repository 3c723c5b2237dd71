Feature: Skipping service items and invoices
  Click Start to begin the sync setup. Alternatively, you may choose to Skip Service Items &
  Invoices.

  @R14
  Scenario: After a skip no service item or invoice syncs, and the step can still be started later
    Given the Admin of the "invoices_linked_and_held" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the Admin skips service items and invoices
    Then the Integrations page shows the service items step as skipped
    And no service item or invoice went between Canopy and QBO
    When the Admin clicks Start on the service items step
    Then the service items review is shown
    And no service item or invoice went between Canopy and QBO
