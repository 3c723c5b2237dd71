Feature: Contacts keep syncing after setup
  Once the sync is set up, new contacts and changes to your contacts sync between Canopy and QBO.
  (docs/rules.md R12: a new contact on one side gets a linked record on the other, or is linked to
  the one unlinked record that already carries its name; a name already taken is a duplicate that
  is reported and not synced; changes to synced fields go both ways, archiving and inactive mirror
  each other.)

  @R12
  Scenario: A client created in Canopy appears in QBO as a customer, linked to it
    Given setup is finished for the "invoices_linked_and_held" firm
    When a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    Then QBO holds one customer "Juniper Lane Studio" with the e-mail "hello@juniperlane.example"
    And the sync log shows the client and that customer linked, the customer created from Canopy

  @R12
  Scenario: A customer created in QBO appears in Canopy as a client, linked to it (interpretation D-5)
    Given setup is finished for the "invoices_linked_and_held" firm
    When an individual customer "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example" is created in QBO
    Then Canopy holds one client "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example", an individual
    And the sync log shows the customer and that client linked, the client created from QBO

  @R12
  Scenario: A new Canopy client whose name one unlinked QBO customer carries is linked to it, not created twice
    Given setup is finished for the "invoices_linked_and_held" firm
    And QBO's webhooks are held back
    And an individual customer "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example" was created in QBO
    When an individual client "Odessa Whitcombe" is created in Canopy
    Then the sync log shows the client linked to that customer by its name
    When QBO's webhooks are let through
    Then QBO holds one customer and Canopy one client named "Odessa Whitcombe", linked to each other

  @R12
  Scenario: A new Canopy client whose name one inactive QBO customer carries, a customer setup never saw, is linked to it, not created twice (interpretations D-2, D-49)
    Given setup is finished for the "invoices_linked_and_held" firm
    And an inactive individual customer "Odessa Whitcombe" was created in QBO, and the sync left it alone
    When an individual client "Odessa Whitcombe" is created in Canopy
    Then QBO holds one customer and Canopy one client named "Odessa Whitcombe", linked to each other

  @R12
  Scenario Outline: A new client whose name is taken by <holder> is reported as a duplicate and not synced (interpretation D-3)
    Given setup is finished for the "invoices_linked_and_held" firm
    And the name of <holder>
    When a business client with that name is created in Canopy
    Then the sync log reports the new client as a duplicate because of "<reason>"
    And QBO holds as many customers with that name as before

    Examples:
      | holder                              | reason                      |
      | a client linked at setup            | name_taken_by_linked_record |
      | a vendor that was added in QBO      | qbo_vendor                  |

  @R12
  Scenario: An e-mail changed in Canopy reaches the linked QBO customer, and one changed in QBO reaches the Canopy client
    Given setup is finished for the "invoices_linked_and_held" firm
    And a client and a customer linked at setup
    When the client's e-mail is changed in Canopy to "first.change@canopy.example"
    Then the customer's e-mail in QBO becomes "first.change@canopy.example"
    When the customer's e-mail is changed in QBO to "second.change@qbo.example"
    Then the client's e-mail in Canopy becomes "second.change@qbo.example"

  @R12
  Scenario: A phone number and an address changed in Canopy reach the linked QBO customer (interpretation D-16)
    Given setup is finished for the "invoices_linked_and_held" firm
    And a client and a customer linked at setup
    When the client's primary phone is changed in Canopy to "+1 415 555 0199" and its primary address to "12 Harbor Way", "Sausalito", "CA", "94965"
    Then the customer's phone in QBO becomes "+1 415 555 0199" and its billing address "12 Harbor Way", "Sausalito", "CA", "94965"

  @R12
  Scenario Outline: When the same field was changed on both sides since the last sync, the later change wins (interpretation D-48)
    Given setup is finished for the "invoices_linked_and_held" firm
    And a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" created in Canopy has reached QBO
    And both fakes' webhooks are held back
    When the client's e-mail is changed in <earlier> to "earlier@<earlier>.example"
    And a second later the client's e-mail is changed in <later> to "later@<later>.example"
    And both fakes' webhooks are let through
    Then the client in Canopy and the customer in QBO both have the e-mail "later@<later>.example"
    And the sync log says the e-mail changed on both sides and <later>'s later change won

    Examples:
      | earlier | later  |
      | Canopy  | QBO    |
      | QBO     | Canopy |

  @R12
  Scenario: Archiving a client in Canopy makes its QBO customer inactive, and making a customer inactive in QBO archives its client (interpretation D-7)
    Given setup is finished for the "contacts_unmatched" firm
    And two clients and customers linked at setup, neither customer owing anything in QBO
    When the first client is archived in Canopy
    Then the first customer is inactive in QBO
    When the second customer is made inactive in QBO
    Then the second client is archived in Canopy
    When the first client is unarchived in Canopy
    Then the first customer is active again in QBO, under its own name

  @R12
  Scenario: A client setup listed as Unmatched stays unsynced when it is edited afterwards (interpretation D-49)
    Given setup is finished for the "invoices_linked_and_held" firm
    And a client setup listed as Unmatched
    When the client's e-mail is changed in Canopy to "still.unmatched@canopy.example"
    Then the sync log says the client was left alone because setup listed it as "unmatched"
    And QBO holds no customer with the client's name
