Feature: Contacts sync on their own when there is no service items and invoices step
  Please Note: This feature is not available for users who have purchased the Transcripts and
  Notices standalone module. Alternatively, you may choose to Skip Service Items & Invoices.
  (docs/rules.md R13: a Transcripts and Notices standalone firm never syncs an item or invoice,
  its contacts sync normally; R14: after a skip no item or invoice syncs until the step is done.)

  @R13
  Scenario: After setup a Transcripts and Notices standalone firm keeps syncing contacts, and no item or invoice ever reaches QBO
    Given the Admin of the "gate_tn_standalone" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    And a service item "Quarterly Advisory Retainer" at "450.00" is created in QBO
    Then QBO holds one customer "Juniper Lane Studio" with the e-mail "hello@juniperlane.example"
    And the sync log shows the client and that customer linked, the customer created from Canopy
    And Canopy refuses service items and invoices for the firm
    And QBO holds no item or invoice but those planted and those made in QBO
    And the sync log has no item or invoice line

  @R14
  Scenario: While the items step is skipped new items and invoices stay where they are; completing the step sends the invoices
    Given the Admin of the "invoices_linked_and_held" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    And the Admin has skipped service items and invoices
    When a service item "Quarterly Advisory Retainer" at "450.00" is created in QBO
    And an invoice is created in Canopy for a client linked at setup, billing items the ground truth matches
    Then Canopy holds no service item "Quarterly Advisory Retainer"
    And QBO holds no invoice for the new Canopy invoice
    When the Admin completes the service items step and clicks Finish
    Then QBO holds the new Canopy invoice, billed to the linked customer for the linked items, with the same amounts
