Feature: Disconnecting and restarting the integration
  (docs/rules.md R22: a disconnect stops all syncing and revokes both the QBO tokens and the
  integration's Canopy token; restarting runs setup again and keeps the links that still hold,
  D-15, D-47.)

  Background:
    Given setup is finished for the "invoices_linked_and_held" firm

  @R22
  Scenario: Disconnecting revokes both sides' tokens and stops all sync
    When the Admin disconnects QBO
    Then QBO has revoked every token it gave Canopy's QBO app for the company
    And Canopy refuses the integration's token with HTTP 401
    When a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    And an individual customer "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example" is created in QBO
    Then after the webhooks are sent, QBO holds no customer "Juniper Lane Studio" and Canopy no client "Odessa Whitcombe"
    And the engine refuses to reconcile the firm

  @R22
  Scenario: Restarting runs setup again, keeps the links that still hold, and creates nothing twice (interpretation D-15)
    Given an invoice created in Canopy for a client linked at setup has reached QBO
    When the fakes' contacts, items and invoices are counted
    And the Admin disconnects QBO
    And the Admin restarts the integration
    Then the Integrations page shows the wizard at the "not_connected" step
    When the Admin finishes setup again, importing "All" contacts
    Then Sync contacts created no contact and linked every pair it linked or created the first time
    And Canopy and QBO hold as many contacts, items and invoices as when they were counted
