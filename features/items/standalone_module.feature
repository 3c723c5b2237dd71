Feature: No service items and invoices step on the Transcripts and Notices standalone module
  Please Note: This feature is not available for users who have purchased the Transcripts and
  Notices standalone module.

  @R13
  Scenario: A Transcripts and Notices standalone firm syncs its contacts but cannot start the service items step
    Given the Admin of the "gate_tn_standalone" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"
    And Canopy holds a new client for each customer of the New Contacts section for "All", and no other
    And the Integrations page shows that the firm has no service items step
    When the Admin clicks Start on the service items step
    Then the service items step is refused with HTTP 403 and the reason "not_available_for_module"
    And no service item or invoice went between Canopy and QBO
