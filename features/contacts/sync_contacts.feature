Feature: Syncing the contacts
  Once all navigation items are complete, click Sync contacts. Your QBO contacts will be synced
  with your Canopy account and you will return to the Integrations page.

  @R11
  Scenario: Sync contacts links the matches and creates the new contacts, and a repeat changes nothing
    Given the Admin of the "default" firm has connected its QBO company
    When the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin clicks Sync contacts
    Then Sync contacts linked the matches and created the new contacts the ground truth counts for "All"
    And the sync log shows a link for each match the ground truth makes for "All", and no other
    And Canopy holds a new client for each customer of the New Contacts section for "All", and no other
    And the Integrations page shows the contacts step as complete
    When the fakes' contacts are counted
    And the Admin clicks Sync contacts again
    Then the answer is the result of the first Sync contacts
    And Canopy and QBO hold as many contacts as when they were counted
    And the Integrations page shows the contacts step as complete

  @R11
  Scenario: If setup is restarted, nothing is created a second time
    Given the Admin of the "contacts_unmatched" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the fakes' contacts are counted
    And the Admin disconnects QBO
    And the Admin restarts the integration
    And the Admin connects the firm to its QBO company again
    And the Admin chooses to import "All" contacts
    And the Admin opens every review section
    And the Admin clicks Sync contacts
    Then Sync contacts created no contact
    And Canopy and QBO hold as many contacts as when they were counted
