Feature: The sync does not echo its own writes
  (docs/rules.md R20: the engine does not sync its own writes back to the side they came from;
  no loops, no back-and-forth updates. QBO's webhook and its change data capture, and Canopy's
  webhook and change feed, all bring the engine's own writes back to it.)

  Background:
    Given setup is finished for the "invoices_linked_and_held" firm

  @R20
  Scenario: A change synced once stays synced once, through webhooks and reconciliation (interpretation D-48)
    Given a client and a customer linked at setup
    When the client's e-mail is changed in Canopy to "echo.test@canopy.example"
    Then the customer's e-mail in QBO becomes "echo.test@canopy.example"
    When the engine reconciles with QBO's change data capture and Canopy's change feed
    And the records of the pair are noted
    And the engine reconciles with QBO's change data capture and Canopy's change feed
    Then the customer's SyncToken and the client's updated_at are as noted
    And the sync log shows one write for the change and none back to Canopy

  @R20
  Scenario: A client created from Canopy is not written again when QBO announces the new customer
    When a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    Then QBO holds one customer "Juniper Lane Studio" with the e-mail "hello@juniperlane.example"
    When the engine reconciles with QBO's change data capture and Canopy's change feed
    And the records of the pair are noted
    And the engine reconciles with QBO's change data capture and Canopy's change feed
    Then the customer's SyncToken and the client's updated_at are as noted
    And the sync log shows one write for the change and none back to Canopy
